// Feature extraction on one core: the reference, streaming and batch (Thrust, CPU) extractors
// on the same selected packets, for [10 x 1000] (ETCpipe) and [5 x 128] (Nepco) rows.
//   bench_features [--benchmark_*]
// Input: 4096 concurrent TCP flows, each of N selected packets with 1400 payload bytes,
// interleaved (packet k of every flow, then packet k+1...), then each flow's end; a pass
// reuses the same flow slots. Counters: flows/s and output bytes/s (N x L per flow).
//  - Streaming: the worker's path, from the captured packet straight into its row.
//  - Reference and Batch: the consumer's path, including the worker's copy of each packet
//    into a selected batch (the hand-off the streaming extractor does not need).
#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include "common/time.hpp"
#include "features/batch_extractor.hpp"
#include "features/extractor.hpp"
#ifdef ETCPIPE_HAVE_CUDA
#include "features/cuda_batch_extractor.hpp"
#endif
#include "packet/decoder.hpp"

namespace etcpipe {
namespace {

constexpr uint32_t kFlows = 4096;
constexpr uint32_t kPayload = 1400;

class CountingSink final : public FeatureSink {
 public:
  uint64_t rows = 0;
  void write(const FeatureBatch& b) override { rows += b.size(); }
};

// Ethernet + IPv4 + TCP (20) + payload, addressed per flow.
std::vector<uint8_t> frame(uint32_t flow, bool client) {
  std::vector<uint8_t> f(14 + 20 + 20 + kPayload, 0);
  f[12] = 0x08;
  uint8_t* ip = f.data() + 14;
  ip[0] = 0x45;
  const uint32_t len = 20 + 20 + kPayload;
  ip[2] = uint8_t(len >> 8);
  ip[3] = uint8_t(len);
  ip[8] = 64;
  ip[9] = 6;
  const uint8_t a[4] = {10, 0, uint8_t(flow >> 8), uint8_t(flow)}, b[4] = {192, 168, 1, 1};
  std::copy(a, a + 4, ip + (client ? 12 : 16));
  std::copy(b, b + 4, ip + (client ? 16 : 12));
  uint8_t* tcp = ip + 20;
  tcp[client ? 0 : 2] = 0x9C;  // port 40000
  tcp[client ? 1 : 3] = 0x40;
  tcp[client ? 2 : 0] = 0x01;  // port 443
  tcp[client ? 3 : 1] = 0xBB;
  tcp[12] = 0x50;
  tcp[13] = 0x18;
  for (uint32_t i = 0; i < kPayload; ++i) tcp[20 + i] = uint8_t(i * 7 + flow);
  return f;
}

struct Workload {
  std::vector<std::vector<uint8_t>> frames;  // [flow * 2 + direction]
  std::vector<DecodedPacket> meta;
};

Workload& workload() {
  static Workload w = [] {
    Workload out;
    for (uint32_t f = 0; f < kFlows; ++f) {
      for (bool client : {true, false}) {
        out.frames.push_back(frame(f, client));
        DecodedPacket p;
        const auto& fr = out.frames.back();
        decode_packet(linktype::kEthernet, fr, uint32_t(fr.size()), {}, p);
        out.meta.push_back(p);
      }
    }
    return out;
  }();
  return w;
}

// Calls packet(meta, flow slot, client, bytes) and end(slot) in arrival order.
template <class Packet, class End>
void one_pass(uint32_t n, uint64_t t0, Packet&& packet, End&& end) {
  Workload& w = workload();
  for (uint32_t k = 0; k < n; ++k) {
    for (uint32_t f = 0; f < kFlows; ++f) {
      const uint32_t i = f * 2 + (k % 2);
      DecodedPacket& p = w.meta[i];  // in place: the harness copies nothing per packet
      p.ts_ns = t0 + uint64_t{k} * 1000 + f;
      packet(p, f + 1, k % 2 == 0, std::span<const uint8_t>(w.frames[i]));
    }
  }
  for (uint32_t f = 0; f < kFlows; ++f) end(f + 1);
}

FeatureSpec spec_of(const benchmark::State& state) {
  FeatureSpec s;
  s.packets = uint32_t(state.range(0));
  s.bytes = uint32_t(state.range(1));
  return s;
}

void report(benchmark::State& state, const FeatureSpec& s, uint64_t rows) {
  if (rows != uint64_t(state.iterations()) * kFlows) state.SkipWithError("rows lost");
  state.counters["flows/s"] = benchmark::Counter(double(rows), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(int64_t(rows * s.packets * s.bytes));
}

void BM_Streaming(benchmark::State& state) {
  const FeatureSpec s = spec_of(state);
  CountingSink sink;
  SinkOutput out(s, sink);
  StreamingExtractor x(s, kFlows, kFlows, 0, 65535, out);
  uint64_t t = 0;
  for (auto _ : state) {
    one_pass(
        s.packets, t += kNsPerSec,
        [&](const DecodedPacket& p, uint32_t flow, bool client, std::span<const uint8_t> b) {
          x.packet(p, flow, 0, client, b);
        },
        [&](uint32_t flow) { x.end(flow); });
    x.hand_over();
  }
  report(state, s, sink.rows);
}

// The worker's copies into selected batches, handed to `consume` as they fill.
template <class Consume>
void via_selected(benchmark::State& state, const FeatureSpec& s, Consume&& consume) {
  SelectedRing ring(0, 2048, 4, kFlows);
  auto drain = [&] {
    while (SelectedBatch* b = ring.take()) {
      consume(*b);
      ring.give_back(b);
    }
  };
  ring.set_lossless(drain);
  uint64_t t = 0;
  for (auto _ : state) {
    one_pass(
        s.packets, t += kNsPerSec,
        [&](const DecodedPacket& p, uint32_t flow, bool client, std::span<const uint8_t> b) {
          ring.add(p, {flow, Selection::Selected, 0, client}, 0, b);
        },
        [&](uint32_t flow) { ring.end(flow); });
    ring.hand_over();
    drain();
  }
}

// A consumer-side extractor made by make(spec, output), fed through selected batches.
template <class Make>
void consumer_side(benchmark::State& state, Make&& make) {
  const FeatureSpec s = spec_of(state);
  CountingSink sink;
  SinkOutput out(s, sink);
  auto x = make(s, out);
  via_selected(state, s, [&](const SelectedBatch& b) { x->add(b); });
  x->finish();
  report(state, s, sink.rows);
}

void BM_Reference(benchmark::State& state) {
  consumer_side(state, [](const FeatureSpec& s, FeatureOutput& out) {
    return std::make_unique<ReferenceExtractor>(s, kFlows, out);
  });
}

void BM_BatchCpu(benchmark::State& state) {
  consumer_side(state, [](const FeatureSpec& s, FeatureOutput& out) {
    return std::make_unique<BatchExtractor>(s, kFlows, 1, kFlows, out);
  });
}

#ifdef ETCPIPE_HAVE_CUDA
void BM_BatchCuda(benchmark::State& state) {
  if (!CudaBatchExtractor::available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  consumer_side(state, [](const FeatureSpec& s, FeatureOutput& out) {
    return std::make_unique<CudaBatchExtractor>(s, kFlows, 1, kFlows, out);
  });
}
#endif

// The flow statistics of finished rows alone (every extractor computes them per flow):
// rows of N packets, directions, sizes, gaps and flags drawn from a fixed seed.
void BM_Stats(benchmark::State& state) {
  FeatureSpec s;
  s.packets = uint32_t(state.range(0));
  s.matrix = false;
  FeatureRows rows(s, kFlows);
  uint64_t x = 88172645463325252ull;
  auto next = [&] { return x ^= x << 13, x ^= x >> 7, x ^= x << 17; };
  for (uint32_t r = 0; r < kFlows; ++r) {
    rows.info(r).packets = s.packets;
    for (uint32_t i = 0; i < s.packets; ++i) {
      const auto len = int32_t(40 + next() % 1461);
      rows.sizes(r)[i] = next() % 2 ? len : -len;
      rows.iats(r)[i] = i == 0 ? 0.0f : float(next() % 100000) * 1e-6f;
      rows.flags(r)[i] = uint8_t(next());
    }
  }
  std::vector<float> out(kStatCount);
  for (auto _ : state) {
    for (uint32_t r = 0; r < kFlows; ++r) {
      compute_stats(rows, r, out.data());
      benchmark::DoNotOptimize(out.data());
    }
  }
  state.counters["flows/s"] =
      benchmark::Counter(double(state.iterations()) * kFlows, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Stats)->Arg(10)->Arg(5)->Unit(benchmark::kMicrosecond);

#define ETCPIPE_SHAPES ->Args({10, 1000})->Args({5, 128})->Unit(benchmark::kMillisecond)
BENCHMARK(BM_Reference) ETCPIPE_SHAPES;
BENCHMARK(BM_Streaming) ETCPIPE_SHAPES;
BENCHMARK(BM_BatchCpu) ETCPIPE_SHAPES;
#ifdef ETCPIPE_HAVE_CUDA
BENCHMARK(BM_BatchCuda) ETCPIPE_SHAPES;
#endif

}  // namespace
}  // namespace etcpipe

BENCHMARK_MAIN();
