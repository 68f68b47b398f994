// Drives sources through the flow pipeline into one sink.
//  - One source per worker (live capture: AF_PACKET fanout sockets, queues): each worker
//    reads its own source and runs both stages in its own thread; the calling thread writes
//    the records and feeds the consumers. There is no dispatcher: the kernel or the NIC
//    spreads flows over the sources.
//  - One source, workers == 1: source, packet stage and flow table in the calling thread.
//  - workers > 1: the calling thread reads and runs the packet stage, picks each packet's
//    worker by symmetric Toeplitz hash (through a 128-entry indirection table, as NICs do)
//    and hands batches of decoded packets to the workers through lock-free single-producer
//    single-consumer queues. Each worker owns a flow table, built in its own thread. Work
//    items come back with the records of the flows that ended, which the calling thread
//    writes to the sink. Packet time reaches every worker with each item, so results do not
//    depend on the number of workers.
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
