// Everything a run counted, for the end summary, --stats-json and the tests' invariant:
// source.packets == sum(outcomes); on a live link, packets received == source.packets +
// source.kernel_drops (dropped by the kernel before etcpipe saw them).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "capture/source.hpp"
#include "features/extractor.hpp"
#include "flow/flow_table.hpp"
#include "flow/fragment_tracker.hpp"
#include "packet/outcome.hpp"

namespace etcpipe {

// What one worker did (its flow table's counters and the packets it was given).
struct WorkerStats {
  uint64_t packets = 0;
  uint64_t kernel_drops = 0;  // live: dropped by the kernel before this worker's source read them
  FlowTableStats flows;
  SelectedStats selected;
  ExtractStats features;  // streaming extraction in the worker, if any
};

struct RunStats {
  SourceStats source;
  OutcomeCounts outcomes{};  // exactly one per packet read; Ok = accounted to a flow
  FlowTableStats flows;      // all workers together; peak_active is the sum of worker peaks
  std::vector<WorkerStats> workers;
  SelectedStats selected;  // all workers together
  ExtractStats features;   // all workers together (streaming extraction)
  FragmentStats fragments;
  uint64_t decapsulated = 0;  // packets accounted to the inner flow of a tunnel
  double elapsed_s = 0;
  double progress = -1;      // share of the input read, in [0, 1] (files); < 0: unknown
  bool interrupted = false;  // stopped (RunOptions::stop) before the end of the input

  uint64_t outcome_total() const;
  // Packets whose headers decoded: accounted to a flow, or a later fragment whose first
  // fragment was not seen.
  uint64_t decoded() const {
    return outcomes[static_cast<std::size_t>(Outcome::Ok)] +
           outcomes[static_cast<std::size_t>(Outcome::FragmentWithoutFirst)];
  }
  bool accounting_balanced() const { return outcome_total() == source.packets; }
  uint64_t received() const { return source.packets + source.kernel_drops; }
  // Packets lost to analysis: dropped by the kernel, or read but in no flow (decode errors, non-IP,
  // unknown link types, orphan fragments; not those the BPF expression filtered), plus selected
  // copies dropped because the consumer was behind.
  uint64_t dropped() const {
    return outcome_total() - outcomes[static_cast<std::size_t>(Outcome::Ok)] -
           outcomes[static_cast<std::size_t>(Outcome::FilteredBpf)] + selected.copy_dropped +
           source.kernel_drops;
  }
};

// Human-readable summary (several lines, for stderr).
std::string format_summary(const RunStats& s);
// One line of progress: share of the input read (if known), packets, bytes, rates, active
// flows, drops, and the time left at this rate.
std::string format_progress(const RunStats& s);
// One JSON object on one line.
std::string format_stats_json(const RunStats& s);
// The Prometheus text exposition format (version 0.0.4), metric names etcpipe_*.
std::string format_prometheus(const RunStats& s);

}  // namespace etcpipe
