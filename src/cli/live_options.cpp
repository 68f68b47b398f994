#include "cli/live_options.hpp"

#include <net/if.h>

#include <chrono>
#include <iostream>

#include "capture/afpacket_socket.hpp"
#include "capture/afpacket_source.hpp"
#include "capture/afxdp_source.hpp"
#include "capture/dpdk_source.hpp"
#include "capture/inline_source.hpp"
#include "cli/commands.hpp"
#include "cli/pipeline_options.hpp"

namespace etcpipe::cli {

const std::string kLiveHelp =
    "Live capture (-i) runs until SIGINT/SIGTERM, --duration or -c, then ends every open\n"
    "flow (end-of-input) and exits 0. Flows end on their timeouts by the clock when the link\n"
    "is quiet. Each worker reads its own socket or queue; the kernel or the NIC spreads flows\n"
    "over them (no reader thread: one thread collects the records). Packets\n"
    "the kernel drops (ring full) are counted: packets received = packets read + kernel drops.\n";

void add_live_options(CLI::App* cmd, LiveOptions& o, CLI::Option* read) {
  auto* group = cmd->add_option_group("Live capture", "Instead of -r: capture on interfaces");
  auto* iface = group
                    ->add_option("-i,--interface", o.interfaces,
                                 "Capture on this interface (repeatable: one flow table space "
                                 "for all); needs CAP_NET_RAW (root)")
                    ->allow_extra_args(false)
                    ->excludes(read);
  read->excludes(iface);
  group
      ->add_option("--capture", o.capture,
                   "afpacket: TPACKET_V3 rings, one socket per worker and interface in a "
                   "PACKET_FANOUT group spread by the kernel's symmetric flow hash, the BPF "
                   "expression run in the kernel. afxdp: etcpipe's XDP program redirects each "
                   "receive queue to an AF_XDP socket, queue q read by worker q mod W (RSS "
                   "spreads the flows: give the NIC a symmetric key), the BPF expression run "
                   "by etcpipe" +
                       std::string(have_xdp() ? "" : " (not in this build)") +
                       ". dpdk: -i names DPDK devices (a PCI address, or a vdev such as "
                       "net_af_packet0,iface=eth0 or net_pcap0,rx_pcap=FILE), one RX queue per "
                       "worker with symmetric RSS, the BPF expression run by etcpipe" +
                       std::string(have_dpdk() ? "" : " (not in this build)") + ".")
      ->capture_default_str()
      ->check(CLI::IsMember({"afpacket", "afxdp", "dpdk"}));
  group->add_option("--dpdk-eal", o.dpdk_eal,
                    "Extra DPDK EAL arguments, after etcpipe's own: --no-huge --no-shconf -m 512 "
                    "--log-level=error, --vdev/-a for each device, --no-pci without a PCI device");
  group
      ->add_option("--xdp-mode", o.xdp_mode,
                   "Where etcpipe's XDP program runs (afxdp, --inline-to, --enforce, --in-kernel): "
                   "native (in "
                   "the driver; refused "
                   "where the driver has no XDP), generic (the kernel's path for any driver, "
                   "a copy per frame), auto (native where the driver has it, else generic)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "native", "generic"}))
      ->needs(iface);
  auto* bridge =
      group
          ->add_option("--inline-to", o.inline_to,
                       "Inline mode, a bump in the wire: forward every frame between -i and "
                       "this interface in XDP (both ways), and analyse copies of the frames of "
                       "flows without a drop or bypass verdict (a BPF ring buffer of --ring-mb; "
                       "one worker). Stopping etcpipe unjoins the ports")
          ->needs(iface);
  group
      ->add_flag("--fail-closed", o.fail_closed,
                 "Inline mode: drop a frame that cannot be copied to etcpipe (its ring full) "
                 "rather than forward it unseen (the default, fail-open)")
      ->needs(bridge);
  group
      ->add_option("--ring-mb", o.ring_mb,
                   "Ring size in MiB: the TPACKET_V3 ring of each interface, shared by its "
                   "workers' sockets (2 MiB each at least) (afpacket); the UMEM of 4 KiB "
                   "frames of each receive queue, rounded down to a power of two (afxdp); "
                   "packets the kernel finds no room for are counted as kernel drops")
      ->capture_default_str()
      ->check(CLI::Range(1u, 65536u));
  group->add_option("--duration", o.duration, "Stop after this many seconds (0: at SIGINT/SIGTERM)")
      ->check(finite_number() & CLI::Range(0.0, 1e9))
      ->needs(iface);
  group->add_option("-c,--count", o.count, "Stop after this many packets (0: no limit)")
      ->needs(iface);
}

LiveInput open_live(const LiveOptions& o, const std::string& bpf, unsigned workers,
                    bool workers_given, bool quiet, bool verdicts_in_xdp,
                    const std::function<void(XdpProgram&)>& prepare_xdp) {
  LiveCaptureConfig lc;
  lc.interfaces = o.interfaces;
  lc.bpf = bpf;
  lc.ring_mb = o.ring_mb;
  lc.max_packets = o.count;
  lc.duration = std::chrono::nanoseconds(static_cast<int64_t>(o.duration * 1e9));
  lc.stop = &stop_flag();  // a signal ends the input: every flow ends, end-of-input
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
  if (in_line && workers_given && workers > 1) {
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
  lc.fit_workers = !workers_given;
  if (!quiet) lc.note = [](const std::string& msg) { std::cerr << "etcpipe: " << msg << '\n'; };
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
    in.queues = open_dpdk_sources(lc, workers);
  } else if (o.capture == "afxdp") {
    in.queues = open_afxdp_sources(lc, workers, *in.xdp);
  } else {
    if (in.xdp) {
      for (const std::string& iface : o.interfaces) {  // XDP parses Ethernet frames
        ethernet_interface(iface,
                           "--enforce and --in-kernel act on Ethernet interfaces only (XDP)");
      }
      lc.socket_filter_fd = in.xdp->socket_filter();
    }
    in.queues = AfPacketSource::open(lc, workers);
    // Enforcing: XDP acts on what arrives, before the kernel's tap.
    for (std::size_t i = 0; in.xdp && i < o.interfaces.size(); ++i) {
      note_xdp_mode(in.xdp->attach(o.interfaces[i], if_nametoindex(o.interfaces[i].c_str())), lc);
    }
  }
  auto& queues = in.queues;
  if (!quiet) {
    std::string names;
    for (const std::string& i : o.interfaces) names += (names.empty() ? "" : " ") + i;
    std::cerr << "etcpipe: listening on " << names << (in_line ? " inline to " + o.inline_to : "")
              << " (" << (in_line ? "xdp copies" : o.capture) << ", " << queues.size()
              << (queues.size() == 1 ? " worker" : " workers");
    if (o.capture == "afpacket") std::cerr << ", ring " << o.ring_mb << " MiB each";
    std::cerr << ")\n";
  }
  return in;
}

}  // namespace etcpipe::cli
