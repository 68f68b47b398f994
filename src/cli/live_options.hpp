// The live capture options of the commands that read packets (flows, classify, extract):
// -i and the capture method, and opening one source per worker from them.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "capture/live_capture.hpp"
#include "capture/xdp_program.hpp"

namespace etcpipe::cli {

struct LiveOptions {
  std::vector<std::string> interfaces;
  std::string capture = "afpacket";
  std::string dpdk_eal;
  std::string xdp_mode = "auto";
  double duration = 0;
  uint64_t count = 0;
  uint32_t ring_mb = LiveCaptureConfig{}.ring_mb;
  std::string inline_to;  // inline mode: the other port
  bool fail_closed = false;

  bool live() const { return !interfaces.empty(); }
};

// What the --help of a command with live capture says about it.
extern const std::string kLiveHelp;

// Registers -i and the live options on `cmd`, exclusive with `read` (the command's -r).
void add_live_options(CLI::App* cmd, LiveOptions& o, CLI::Option* read);

// What a live run reads: one source per worker, and etcpipe's XDP program where it runs
// (afxdp, inline mode, enforcement), whose maps the run's stages share.
struct LiveInput {
  std::shared_ptr<XdpProgram> xdp;  // outlives the sources (declared first), and shared with
                                    // the enforcer
  std::vector<std::unique_ptr<PacketSource>> queues;
};

// Opens one source per worker on the interfaces (a signal, --duration or -c ends them), and
// says on stderr what it listens on unless `quiet`. Throws std::runtime_error.
// `workers_given`: --workers was on the command line (else fewer workers where a device has
// fewer queues). `verdicts_in_xdp` (--enforce, --in-kernel): verdicts act in XDP (the program
// is loaded, as for afxdp or inline mode; afpacket then attaches it and its socket filter
// too), and `prepare_xdp`, if set, gets it before it is attached to any interface.
LiveInput open_live(const LiveOptions& o, const std::string& bpf, unsigned workers,
                    bool workers_given, bool quiet, bool verdicts_in_xdp = false,
                    const std::function<void(XdpProgram&)>& prepare_xdp = {});

}  // namespace etcpipe::cli
