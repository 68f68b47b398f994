// Options shared by the commands that run the flow pipeline (flows, extract): decoding,
// flow table, timeouts, workers and the selection rules, and the configuration they make.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iostream>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/flow_pipeline.hpp"

namespace etcpipe::cli {

// Seconds of a default given in nanoseconds.
constexpr double seconds(uint64_t ns) {
  return static_cast<double>(ns) / static_cast<double>(kNsPerSec);
}

// The defaults are the library's (FlowTimeouts, SelectionRules, FlowPipelineConfig), but
// for the table's capacity (0: a quarter of the memory) and the worker count.
struct PipelineOptions {
  bool no_decap = false;
  uint32_t max_flows = 0;
  double tcp_idle = seconds(FlowTimeouts{}.tcp_idle_ns);
  double udp_idle = seconds(FlowTimeouts{}.udp_idle_ns);
  double other_idle = seconds(FlowTimeouts{}.other_idle_ns);
  double active = seconds(FlowTimeouts{}.active_ns);
  double tcp_close = seconds(FlowTimeouts{}.tcp_close_ns);
  uint32_t frag_slots = FlowPipelineConfig{}.frag_slots;
  double frag_timeout = seconds(FlowPipelineConfig{}.frag_timeout_ns);
  // The reader takes a core of its own: one worker fewer than cores (one at least).
  unsigned workers = std::max(2u, std::thread::hardware_concurrency()) - 1;
  uint32_t select_packets = SelectionRules{}.packets;
  std::string select_proto = "both";
  bool select_empty = false;
  std::string select_direction = "both";
  uint32_t select_min_payload = 0;
  std::vector<uint16_t> select_ports;
  std::string select_filter;
  uint32_t select_snaplen = FlowPipelineConfig{}.select_snaplen;
};

// Registers the options on `cmd`. Without `select_packets`, the command sets N itself.
void add_pipeline_options(CLI::App* cmd, PipelineOptions& o, bool select_packets);
FlowPipelineConfig pipeline_config(const PipelineOptions& o);
// The selection snap length feature extraction of `spec` needs (its L plus headers, at
// least a full Ethernet frame), unless --select-snaplen was given.
uint32_t snaplen_for(const FeatureSpec& spec);
// What to say when the tables `o` asks for do not fit in memory (std::bad_alloc).
std::string out_of_memory_advice(const PipelineOptions& o);

// A command's run: its exit status, or 2 with one line on stderr for what it threw (with
// the memory advice for std::bad_alloc).
template <class Body>
int run_guarded(const PipelineOptions& o, Body&& body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    std::cerr << "etcpipe: " << out_of_memory_advice(o) << '\n';
  } catch (const std::exception& e) {
    std::cerr << "etcpipe: " << e.what() << '\n';
  }
  return 2;
}

// Says a warning on stderr ("etcpipe: MSG"), clearing the progress line first if one is shown.
using Warn = std::function<void(const std::string&)>;
Warn warner(bool progress);

// Words joined by single spaces (a BPF expression given as several arguments).
std::string join(const std::vector<std::string>& words);
// Refuses nan and inf (CLI::Range lets nan through).
CLI::Validator finite_number();

}  // namespace etcpipe::cli
