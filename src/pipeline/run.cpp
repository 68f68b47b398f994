#include "pipeline/run.hpp"

#include <chrono>

namespace etcpipe {

RunStats collect_stats(const PacketSource& source, const FlowPipeline& pipeline, double elapsed_s) {
  RunStats s;
  s.source = source.stats();
  s.outcomes = pipeline.outcomes();
  s.outcomes[static_cast<std::size_t>(Outcome::FilteredBpf)] = s.source.filtered;
  s.flows = pipeline.flow_stats();
  s.fragments = pipeline.fragment_stats();
  s.decapsulated = pipeline.decapsulated();
  s.elapsed_s = elapsed_s;
  return s;
}

RunStats run_flows(PacketSource& source, FlowPipeline& pipeline, FlowSink& sink,
                   const RunOptions& opts) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto next_tick = start + std::chrono::duration<double>(opts.tick_seconds);
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };

  PacketBatch batch;
  auto drain = [&] {
    auto& done = pipeline.finished();
    if (!done.empty()) sink.write(done);
    done.clear();
  };
  while (!(opts.stop && opts.stop->load(std::memory_order_relaxed)) && source.next_batch(batch)) {
    pipeline.process(batch);
    drain();
    if (opts.on_tick && Clock::now() >= next_tick) {
      opts.on_tick(collect_stats(source, pipeline, elapsed()));
      next_tick = Clock::now() + std::chrono::duration<double>(opts.tick_seconds);
    }
  }
  pipeline.flush();
  drain();
  sink.close();
  return collect_stats(source, pipeline, elapsed());
}

}  // namespace etcpipe
