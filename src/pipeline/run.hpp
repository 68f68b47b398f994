// Drives sources through the flow pipeline into one sink. A run is W workers and a
// collector:
//  - A worker owns its input, its pipeline (built in its own thread) and the queues its
//    records go out by, and runs one loop in its thread (run.cpp, Worker).
//  - Its input is a source of its own (live capture: AF_PACKET fanout sockets, AF_XDP or
//    DPDK queues, spread by the kernel or the NIC; or the one source of a run with one
//    worker), which its packet stage decodes; or its share of a split source (files, W > 1):
//    the splitter reads and decodes the source, picks each packet's worker by symmetric
//    Toeplitz hash (through a 128-entry indirection table, as NICs do) and hands each
//    worker its packets with the packet time, so results do not depend on W.
//  - The collector, the calling thread, writes the records to the sink and feeds the
//    consumers (selected packets, feature rows); with a split source it runs the splitter
//    between collections.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "capture/source.hpp"
#include "export/sink.hpp"
#include "pipeline/flow_pipeline.hpp"
#include "pipeline/run_stats.hpp"

namespace etcpipe {

struct RunOptions {
  unsigned workers = 1;
  const std::atomic<bool>* stop = nullptr;       // set asynchronously (SIGINT): stop reading
  std::function<void(const RunStats&)> on_tick;  // called about every `tick_seconds`
  // Consumer of selected packets (the feature extractor), in the calling thread; the batch
  // is reused after the call. Without one, selected batches are recycled unread.
  std::function<void(const SelectedBatch&)> on_selected;
  // Consumer of finished feature rows of the workers' streaming extractors (see
  // FlowPipelineConfig::streaming), in the calling thread; the batch is reused after it.
  std::function<void(const FeatureBatch&)> on_features;
  double tick_seconds = 1.0;
  // Workers wait for the consumer instead of dropping selected copies and feature rows when
  // it is behind: right for files (nothing is lost by waiting); a probe on a live link, or
  // a benchmark of one, sets false and counts drops.
  bool lossless = true;
};

// Reads the source to its end (or until *stop), flushes every flow into the sink, gives it
// the statistics (FlowSink::summary) and closes it, and returns the statistics.
RunStats run_flows(PacketSource& source, const FlowPipelineConfig& cfg, FlowSink& sink,
                   const RunOptions& opts);
// The same with one source per worker (opts.workers is not used: one worker per source).
RunStats run_flows(std::vector<std::unique_ptr<PacketSource>>& sources,
                   const FlowPipelineConfig& cfg, FlowSink& sink, const RunOptions& opts);

}  // namespace etcpipe
