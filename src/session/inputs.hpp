// What a run reads, opened the same way for flows, classify and extract: capture files
// (-r, directories expanded), or one source per worker on live interfaces (-i), with
// etcpipe's XDP program where it runs.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "capture/live_capture.hpp"
#include "capture/xdp_program.hpp"
#include "session/stop_signals.hpp"

namespace etcpipe {

// Words joined by single spaces (a BPF expression given as several arguments).
std::string join(const std::vector<std::string>& words);

// Told to the user, one complete message: a warning (an input left out, a read error) or a
// note (what a live capture listens on, a fallback mode).
using Tell = std::function<void(const std::string&)>;

// How to capture on interfaces.
struct LiveConfig {
  std::vector<std::string> interfaces;  // none: the run reads capture files
  std::string capture = "afpacket";     // afpacket, afxdp or dpdk
  std::string dpdk_eal;                 // extra EAL arguments
  std::string xdp_mode = "auto";        // auto, native or generic
  double duration = 0;                  // seconds; 0: until the stop flag
  uint64_t count = 0;                   // packets in all; 0: no limit
  uint32_t ring_mb = LiveCaptureConfig{}.ring_mb;
  std::string inline_to;  // inline mode: the other port
  bool fail_closed = false;

  bool live() const { return !interfaces.empty(); }
};

struct InputConfig {
  std::vector<std::string> captures;  // capture files or directories of them
  LiveConfig live;
  std::string filter;  // BPF expression (tcpdump syntax); empty: every packet
  // The collector (and a file's splitter) takes a core of its own: one worker fewer than
  // cores (one at least).
  unsigned workers = std::max(2u, std::thread::hardware_concurrency()) - 1;
  // The worker count was asked for; otherwise fewer workers where a device has fewer queues.
  bool workers_given = false;
  const std::atomic<bool>* stop = &stop_flag();  // set asynchronously: end of input

  // Throws std::runtime_error when neither captures nor interfaces are given.
  void require_some() const;
};

// What a live run reads: one source per worker, and etcpipe's XDP program where it runs
// (afxdp, inline mode, enforcement), whose maps the run's stages share.
struct LiveInput {
  std::shared_ptr<XdpProgram> xdp;  // outlives the sources (declared first), and shared with
                                    // the enforcer
  std::vector<std::unique_ptr<PacketSource>> queues;
};

// Opens one source per worker on the interfaces (the stop flag, `duration` or `count` end
// them), and tells `note` (if set) what it listens on. Throws std::runtime_error.
// `verdicts_in_xdp` (--enforce, --in-kernel): verdicts act in XDP (the program is loaded, as
// for afxdp or inline mode; afpacket then attaches it and its socket filter too), and
// `prepare_xdp`, if set, gets it before it is attached to any interface.
LiveInput open_live(const InputConfig& c, const Tell& note, bool verdicts_in_xdp = false,
                    const std::function<void(XdpProgram&)>& prepare_xdp = {});

// The inputs of a run: the capture files (directories expanded), or the live sources.
struct Inputs {
  std::vector<std::string> files;
  LiveInput live;
  uint64_t skipped = 0;  // directory entries that could not be read, told to `warn`
};

// Opens the live sources (open_live), or lists the capture files. Throws
// std::runtime_error when no capture file is found.
Inputs open_inputs(const InputConfig& c, const Tell& warn, const Tell& note,
                   bool verdicts_in_xdp = false,
                   const std::function<void(XdpProgram&)>& prepare_xdp = {});

}  // namespace etcpipe
