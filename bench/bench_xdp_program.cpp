// etcpipe's XDP program's own time per frame (BPF_PROG_TEST_RUN: the kernel's clock around
// the program) by what a frame makes it do, with the in-kernel model (models/kernel) loaded:
// a frame of a flow with a verdict, the first frame of a new flow (its state inserted into
// kernel_flows), and a flow's K-th selected frame (the forest walked, the verdict inserted),
// each with the maps sized for 65,536 flows (full after that many: LRU evictions) and for
// 1,048,576. Root only (skipped otherwise).
//   bench_xdp_program [--benchmark_*]
#include <benchmark/benchmark.h>
#include <linux/bpf.h>

#include <memory>

#include "capture/xdp_program.hpp"
#include "session/kernel_model.hpp"
#include "unit/packet_builder.hpp"

namespace etcpipe {
namespace {

using namespace etcpipe::test;

struct Loaded {
  std::unique_ptr<XdpProgram> xdp;
  KernelModel model;
};

// The program with the model, or null (state skipped) where BPF programs cannot be loaded.
std::unique_ptr<Loaded> load(benchmark::State& state, uint32_t flows) {
  try {
    auto l = std::make_unique<Loaded>(
        Loaded{std::make_unique<XdpProgram>(XdpConfig{.flows = flows}),
               KernelModel::load(std::string(ETCPIPE_MODELS) + "/kernel/kernel.json")});
    l->xdp->load_kernel_model(l->model.nodes(), l->model.leaves(), l->model.config(0));
    return l;
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return nullptr;
  }
}

// A UDP frame with payload of flow number n (distinct addresses and ports).
Bytes frame(uint32_t n) {
  const V4 src{10, uint8_t(n >> 16), uint8_t(n >> 8), uint8_t(n)};
  return eth(0x0800, ipv4(src, kC, 17, udp(uint16_t(1024 + n % 60000), 443, Bytes(100, 1))));
}

// Runs `f` `k` times untimed, then once timed; the kernel's ns.
uint32_t timed_after(XdpProgram& xdp, const Bytes& f, uint32_t k) {
  for (uint32_t i = 0; i < k; ++i) xdp.run_on(f);
  uint32_t ns = 0;
  xdp.run_on(f, 1, &ns);
  return ns;
}

void BM_FrameOfDecidedFlow(benchmark::State& state) {
  auto l = load(state, 65536);
  if (!l) return;
  const Bytes f = frame(1);
  for (uint32_t i = 0; i < l->model.packets(); ++i) l->xdp->run_on(f);  // decided
  for (auto _ : state) {
    uint32_t ns = 0;
    l->xdp->run_on(f, 1000, &ns);
    state.SetIterationTime(ns * 1000 / 1e9);
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}

// Every frame a new flow: `range(0)` flows in the maps; 200,000 flows in all, so the small
// maps are full for the last two thirds of them.
void BM_FirstFrameOfNewFlow(benchmark::State& state) {
  auto l = load(state, uint32_t(state.range(0)));
  if (!l) return;
  uint32_t n = 0;
  for (auto _ : state) {
    double ns = 0;
    for (int i = 0; i < 1000; ++i) ns += timed_after(*l->xdp, frame(n++ % 200000), 0);
    state.SetIterationTime(ns / 1e9);
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}

// The K-th selected frame of new flows: the forest and the verdict's insert.
void BM_KthFrameOfNewFlow(benchmark::State& state) {
  auto l = load(state, uint32_t(state.range(0)));
  if (!l) return;
  uint32_t n = 0;
  for (auto _ : state) {
    double ns = 0;
    for (int i = 0; i < 100; ++i) {
      ns += timed_after(*l->xdp, frame(n++ % 200000), l->model.packets() - 1);
    }
    state.SetIterationTime(ns / 1e9);
  }
  state.SetItemsProcessed(state.iterations() * 100);
}

BENCHMARK(BM_FrameOfDecidedFlow)->UseManualTime()->Unit(benchmark::kNanosecond);
BENCHMARK(BM_FirstFrameOfNewFlow)
    ->Arg(65536)
    ->Arg(1 << 20)
    ->Iterations(200)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_KthFrameOfNewFlow)
    ->Arg(65536)
    ->Arg(1 << 20)
    ->Iterations(400)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace etcpipe

BENCHMARK_MAIN();
