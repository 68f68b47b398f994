#include "session/inputs.hpp"

#include <net/if.h>

#include <chrono>
#include <stdexcept>

#include "capture/afpacket_socket.hpp"
#include "capture/afpacket_source.hpp"
#include "capture/afxdp_source.hpp"
#include "capture/dpdk_source.hpp"
#include "capture/inline_source.hpp"
#include "capture/pcap_source.hpp"

namespace etcpipe {

std::string join(const std::vector<std::string>& words) {
  std::string s;
  for (const auto& w : words) s += (s.empty() ? "" : " ") + w;
  return s;
}

void InputConfig::require_some() const {
  if (captures.empty() && !live.live()) {
    throw std::runtime_error("nothing to read: give captures (-r FILE) or interfaces (-i IFACE)");
  }
}

LiveInput open_live(const InputConfig& c, const Tell& note, bool verdicts_in_xdp,
                    const std::function<void(XdpProgram&)>& prepare_xdp) {
  const LiveConfig& o = c.live;
  LiveCaptureConfig lc;
  lc.interfaces = o.interfaces;
  lc.bpf = c.filter;
  lc.ring_mb = o.ring_mb;
  lc.max_packets = o.count;
  lc.duration = std::chrono::nanoseconds(static_cast<int64_t>(o.duration * 1e9));
  lc.stop = c.stop;  // a signal ends the input: every flow ends, end-of-input
  lc.dpdk_eal = o.dpdk_eal;
  const bool in_line = !o.inline_to.empty();
  if (o.capture != "afxdp" && o.xdp_mode != "auto" && !verdicts_in_xdp && !in_line) {
    throw std::runtime_error(
        "--xdp-mode " + o.xdp_mode +
        ": only where XDP runs (--capture afxdp, --inline-to, --enforce, --in-kernel)");
  }
  if (in_line && o.capture != "afpacket") {
    throw std::runtime_error("--inline-to: the copies come from XDP; --capture " + o.capture +
                             " does not apply");
  }
  if (in_line && c.workers_given && c.workers > 1) {
    throw std::runtime_error("--inline-to: one worker reads the copy ring (--workers 1)");
  }
  if (verdicts_in_xdp && o.capture == "dpdk") {
    throw std::runtime_error(
        "--enforce, --in-kernel: DPDK takes the device from the kernel, where XDP runs: capture "
        "with "
        "afpacket or afxdp");
  }
  using XdpMode = LiveCaptureConfig::XdpMode;
  lc.xdp_mode = o.xdp_mode == "native"    ? XdpMode::Native
                : o.xdp_mode == "generic" ? XdpMode::Generic
                                          : XdpMode::Auto;
  lc.fit_workers = !c.workers_given;
  lc.note = note;
  LiveInput in;
  if (in_line || verdicts_in_xdp || o.capture == "afxdp") {
    XdpConfig xc;
    xc.attach = lc.xdp_mode;
    xc.mode = in_line ? ETCPIPE_MODE_INLINE | (o.fail_closed ? ETCPIPE_MODE_FAIL_CLOSED : 0u)
              : o.capture == "afxdp" ? ETCPIPE_MODE_XSK
                                     : 0u;
    if (in_line) xc.copy_ring_bytes = std::min(o.ring_mb, 1024u) << 20;
    in.xdp = std::make_shared<XdpProgram>(xc);
    if (prepare_xdp) prepare_xdp(*in.xdp);
  }
  if (in_line) {
    in.queues.push_back(open_inline_source(lc, o.inline_to, *in.xdp));
  } else if (o.capture == "dpdk") {
    in.queues = open_dpdk_sources(lc, c.workers);
  } else if (o.capture == "afxdp") {
    in.queues = open_afxdp_sources(lc, c.workers, *in.xdp);
  } else {
    if (in.xdp) {
      for (const std::string& iface : o.interfaces) {  // XDP parses Ethernet frames
        ethernet_interface(iface,
                           "--enforce and --in-kernel act on Ethernet interfaces only (XDP)");
      }
      lc.socket_filter_fd = in.xdp->socket_filter();
    }
    in.queues = AfPacketSource::open(lc, c.workers);
    // Enforcing: XDP acts on what arrives, before the kernel's tap.
    for (std::size_t i = 0; in.xdp && i < o.interfaces.size(); ++i) {
      note_xdp_mode(in.xdp->attach(o.interfaces[i], if_nametoindex(o.interfaces[i].c_str())), lc);
    }
  }
  if (note) {
    const std::size_t n = in.queues.size();
    std::string msg = "listening on " + join(o.interfaces) +
                      (in_line ? " inline to " + o.inline_to : "") + " (" +
                      (in_line ? "xdp copies" : o.capture) + ", " + std::to_string(n) +
                      (n == 1 ? " worker" : " workers");
    if (o.capture == "afpacket") msg += ", ring " + std::to_string(o.ring_mb) + " MiB each";
    note(msg + ")");
  }
  return in;
}

Inputs open_inputs(const InputConfig& c, const Tell& warn, const Tell& note, bool verdicts_in_xdp,
                   const std::function<void(XdpProgram&)>& prepare_xdp) {
  Inputs in;
  if (c.live.live()) {
    in.live = open_live(c, note, verdicts_in_xdp, prepare_xdp);
    return in;
  }
  in.files = expand_capture_paths(c.captures, [&](const std::string& msg) {
    ++in.skipped;
    warn(msg);
  });
  if (in.files.empty()) {
    throw std::runtime_error("no capture files found in " + join(c.captures));
  }
  return in;
}

}  // namespace etcpipe
