// A flows or classify run from one typed configuration: the inputs and outputs opened from
// it, the classification and enforcement set up, the pipeline run, and what became of it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "export/sink.hpp"
#include "pipeline/flow_pipeline.hpp"
#include "pipeline/run_stats.hpp"
#include "session/classification.hpp"
#include "session/inputs.hpp"

namespace etcpipe {

// A quarter of physical memory, in flows: the flow table of a probe.
uint32_t probe_max_flows();
// The library's pipeline with a probe's flow table (probe_max_flows).
FlowPipelineConfig probe_pipeline();
// The selection snap length feature extraction of `spec` needs: its L plus headers, at
// least the library's default (a full Ethernet frame).
uint32_t snaplen_for(const FeatureSpec& spec);

// Acting on verdicts (classify): the rules, in order; none: no enforcement.
struct EnforceConfig {
  std::vector<std::string> rules;  // ACTION:LABEL[@MINCONF]
  std::string file;                // rules one a line ('#' comments), after `rules`
  bool dry_run = false;            // act on nothing, say what would be done

  bool given() const { return !rules.empty() || !file.empty(); }
};

struct FlowRunConfig {
  InputConfig input;
  // Record outputs, KIND:TARGET (export's table of kinds) or a file for JSON Lines; pcap:FILE
  // (the first with a target) takes the selected packets. None: JSON Lines on stdout.
  std::vector<std::string> outputs;
  std::string stats_json;     // statistics file: a line each stats_interval, the totals last
  double stats_interval = 0;  // seconds between ticks; 0: about a second, no line in the file
  std::string metrics;        // ADDR:PORT to serve Prometheus counters on; empty: none
  std::string web;            // ADDR:PORT to serve the live view on; empty: none
  FlowPipelineConfig pipeline = probe_pipeline();
  std::optional<ClassificationConfig> classification;  // records carry verdicts (classify)
  bool snaplen_from_model = true;  // the model's spec sets pipeline.select_snaplen
  EnforceConfig enforce;
  std::string command_line;                            // what database outputs record of the run
  const std::atomic<bool>* give_up = &give_up_flag();  // set: do not wait for a blocked output
};

// What became of a run.
struct FlowRunResult {
  RunStats stats;
  std::string classification;             // summary lines of a classifying run, else empty
  std::vector<FlowSink::Report> reports;  // what the outputs that talk to servers say
  struct {
    bool open = false;  // a pcap: output took the selected packets (the counts once closed)
    uint64_t written = 0, other_link_type = 0;
    std::string error;  // closing it failed
  } pcap;
  uint64_t dropped = 0;     // records dropped: the run was ended while an output was behind
  uint64_t unreadable = 0;  // inputs not opened, ended by a read error or left out
};

// What the caller is told while the run lasts, and at its end.
struct FlowRunHooks {
  Tell warn;  // an input left out or ended by a read error
  Tell note;  // how the live capture runs; null: nothing said
  Tell log;   // what enforcement does in a dry run; null: nothing said
  // About once a second (each stats_interval if given): the statistics so far
  // (RunStats::progress: the share of the capture files read).
  std::function<void(const RunStats&)> tick;
  // The run is over: before the statistics file gets its totals line.
  std::function<void(const FlowRunResult&)> end;
};

// Opens the inputs and outputs, runs the flow pipeline (and the classification) to the end
// of the input or the stop flag, and closes everything. Throws std::runtime_error for a
// configuration that cannot run or an input or output that cannot be opened.
FlowRunResult run_flow_session(const FlowRunConfig& config, const FlowRunHooks& hooks);

}  // namespace etcpipe
