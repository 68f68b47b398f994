// Decode + flow tracking on one core, from an in-memory replay of captures.
//   bench_flows [--benchmark_*]
// Input: $ETCPIPE_BENCH_CAPTURE (a capture or a directory of captures), by default every
// shared nDPI capture beside the checkout, read in name order.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <vector>

#include "capture/pcap_source.hpp"
#include "export/jsonl_writer.hpp"
#include "pipeline/flow_pipeline.hpp"

namespace etcpipe {
namespace {

struct Replay {
  std::unique_ptr<PcapFileSource> source;  // kept: the batches' packets lie in its mappings
  std::vector<PacketBatch> batches;
  uint64_t packets = 0;
  uint64_t bytes = 0;  // captured bytes (wire lengths in hostile captures are arbitrary)
};

const Replay& replay() {
  static const Replay r = [] {
    const char* env = std::getenv("ETCPIPE_BENCH_CAPTURE");
    const std::string path = env ? env : ETCPIPE_DEFAULT_BENCH_CAPTURE;
    Replay out;
    out.source = std::make_unique<PcapFileSource>(
        expand_capture_paths({path}), "", [](const std::string& m) { std::cerr << m << '\n'; });
    for (;;) {
      PacketBatch b;
      if (!out.source->next_batch(b)) break;
      for (uint32_t i = 0; i < b.size(); ++i) out.bytes += b.ref(i).caplen;
      out.packets += b.size();
      if (b.size() > 0) out.batches.push_back(std::move(b));
    }
    std::cerr << path << ": " << out.packets << " packets in memory\n";
    return out;
  }();
  return r;
}

void BM_Decode(benchmark::State& state) {
  const Replay& r = replay();
  DecodedPacket p;
  uint64_t ok = 0;
  for (auto _ : state) {
    for (const auto& b : r.batches) {
      for (uint32_t i = 0; i < b.size(); ++i) {
        ok += decode_packet(b.dlt, b.bytes(i), b.ref(i).wire_len, {}, p) == Outcome::Ok;
      }
    }
  }
  benchmark::DoNotOptimize(ok);
  state.SetItemsProcessed(int64_t(state.iterations() * r.packets));
  state.SetBytesProcessed(int64_t(state.iterations() * r.bytes));
}

// One pipeline; every pass creates every flow of the replay, accounts its packets and
// ends it (flush), reusing the freed entries of the previous pass.
void BM_DecodeAndTrackFlows(benchmark::State& state) {
  const Replay& r = replay();
  FlowPipelineConfig cfg;
  cfg.table.max_flows = 1 << 20;
  FlowPipeline pipeline(cfg);
  uint64_t flows = 0;
  for (auto _ : state) {
    for (const auto& b : r.batches) {
      pipeline.process(b);
      flows += pipeline.finished().size();
      pipeline.finished().clear();
    }
    pipeline.flush();
    flows += pipeline.finished().size();
    pipeline.finished().clear();
  }
  state.SetItemsProcessed(int64_t(state.iterations() * r.packets));
  state.SetBytesProcessed(int64_t(state.iterations() * r.bytes));
  state.counters["flows_per_pass"] = double(flows) / double(state.iterations());
}

// JSON Lines formatting of the replay's flow records (the writer thread's work for -o FILE).
void BM_JsonLines(benchmark::State& state) {
  const Replay& r = replay();
  std::vector<FlowRecord> records;
  FlowPipeline pipeline({});
  for (const auto& b : r.batches) {
    pipeline.process(b);
    for (const FlowRecord& f : pipeline.finished()) records.push_back(f);
  }
  pipeline.flush();
  for (const FlowRecord& f : pipeline.finished()) records.push_back(f);
  fmt::memory_buffer out;
  uint64_t bytes = 0;
  for (auto _ : state) {
    for (const FlowRecord& f : records) {
      JsonlWriter::format(f, out);
      if (out.size() >= (1 << 16)) {
        bytes += out.size();
        out.clear();
      }
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(int64_t(state.iterations() * records.size()));
  state.counters["bytes_per_record"] = double(bytes) / double(state.iterations() * records.size());
}

BENCHMARK(BM_Decode)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DecodeAndTrackFlows)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_JsonLines)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace etcpipe

BENCHMARK_MAIN();
