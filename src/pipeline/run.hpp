// Drives one source through one flow pipeline into one sink, with a stop flag for signals
// and a periodic callback for progress. Single worker; multi-worker dispatch builds on it.
#pragma once

#include <atomic>
#include <functional>

#include "capture/source.hpp"
#include "export/sink.hpp"
#include "pipeline/flow_pipeline.hpp"
#include "pipeline/run_stats.hpp"

namespace etcpipe {

struct RunOptions {
  const std::atomic<bool>* stop = nullptr;       // set asynchronously (SIGINT): stop reading
  std::function<void(const RunStats&)> on_tick;  // called about every `tick_seconds`
  double tick_seconds = 1.0;
};

// Reads the source to its end (or until *stop), flushes every flow into the sink and
// returns the run's statistics.
RunStats run_flows(PacketSource& source, FlowPipeline& pipeline, FlowSink& sink,
                   const RunOptions& opts);

// Snapshot of the counters so far.
RunStats collect_stats(const PacketSource& source, const FlowPipeline& pipeline, double elapsed_s);

}  // namespace etcpipe
