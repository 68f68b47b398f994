// etcpipe's BPF object (capture/bpf/etcpipe_xdp.bpf.c: the XDP program, the socket filter
// and their maps), loaded once per run through its libbpf skeleton and attached to each
// capture interface with a bpf_link: the program goes away with the process, even killed.
// Its maps are the run's: the AF_XDP sockets (afxdp), the flow verdict map (enforcement),
// the ports and the copy ring (inline mode).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "capture/bpf/etcpipe_xdp.h"
#include "capture/live_capture.hpp"

namespace etcpipe {

// Whether this build has XDP (libbpf, libxdp, clang and bpftool at build time).
bool have_xdp();

struct XdpConfig {
  LiveCaptureConfig::XdpMode attach = LiveCaptureConfig::XdpMode::Auto;
  uint32_t mode = 0;             // ETCPIPE_MODE_* bits
  uint32_t flows = 65536;        // entries of the verdict map (flows with an action), and of the
                                 // in-kernel classifier's flow map
  uint32_t copy_ring_bytes = 0;  // inline mode's ring (a power of two, 16 pages at least)
};

class XdpProgram {
 public:
  // Loads the object; throws std::runtime_error with the reason (privilege, kernel).
  explicit XdpProgram(const XdpConfig& c);
  ~XdpProgram();
  XdpProgram(const XdpProgram&) = delete;
  XdpProgram& operator=(const XdpProgram&) = delete;

  struct Link {
    std::string iface;
    unsigned ifindex = 0;
    bool native = false;   // in the driver; else the kernel's generic path
    int native_error = 0;  // why the driver refused native mode (auto)
  };
  // Attaches the XDP program to an interface (native or generic as configured); throws with
  // the reason (another program is attached, the driver refuses the mode).
  const Link& attach(const std::string& iface, unsigned ifindex);
  const std::vector<Link>& links() const { return links_; }

  int xsk_map() const;
  int verdict_map() const;
  int port_map() const;
  int copy_ring() const;
  int socket_filter() const;  // the socket filter program, for SO_ATTACH_BPF
  // Writes a flow's entry in the verdict map; false (errno set) if the kernel refuses.
  bool set_verdict(const etcpipe_flow_key& key, const etcpipe_flow_state& state);
  // Takes a flow's entry out of the verdict map; false if it has none.
  bool take_verdict(const etcpipe_flow_key& key, etcpipe_flow_state& state);
  // In-kernel classification: puts a model in the program's maps (nodes and leaves, then the
  // configuration, whose tree count turns the classifier on). Throws with the reason.
  void load_kernel_model(std::span<const etcpipe_kernel_node> nodes,
                         std::span<const etcpipe_kernel_leaf> leaves,
                         const etcpipe_kernel_config& config);
  bool has_kernel_model() const { return kernel_model_; }
  // A flow's state in the in-kernel classifier; false if it has none. take_: out of the map.
  bool kernel_flow(const etcpipe_flow_key& key, etcpipe_kernel_flow& flow) const;
  bool take_kernel_flow(const etcpipe_flow_key& key, etcpipe_kernel_flow& flow);
  // Runs the XDP program on `frame` as if it had arrived, `repeat` times (BPF_PROG_TEST_RUN;
  // tests and benchmarks): its action (XDP_*), or -errno; the mean time per run in `ns`.
  int run_on(std::span<const uint8_t> frame, uint32_t repeat = 1, uint32_t* ns = nullptr);
  // Instructions the kernel's verifier went through to load the XDP program (its complexity;
  // 0 where the kernel does not say).
  uint32_t verified_instructions() const;
  // The program's counters, summed over CPUs.
  etcpipe_xdp_stats stats() const;

 private:
  struct Object;
  std::unique_ptr<Object> object_;
  std::vector<Link> links_;
  std::vector<int> link_fds_;
  LiveCaptureConfig::XdpMode attach_mode_;
  bool kernel_model_ = false;
};

// Says through cfg.note (if set) where the program runs on `link` when not in the driver.
void note_xdp_mode(const XdpProgram::Link& link, const LiveCaptureConfig& cfg);

}  // namespace etcpipe
