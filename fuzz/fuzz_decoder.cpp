// libFuzzer target: one packet through the decoder, then through a small flow pipeline
// (fragment tracking, flow table). Input: byte 0 picks the link type (kLinktypes below;
// scripts/make_fuzz_corpus.py writes seeds in this form), byte 1 adds to the wire length,
// the rest is the captured packet.
#include <cstddef>
#include <cstdint>

#include "pipeline/flow_pipeline.hpp"

namespace {
// Supported link types, then one we do not support.
constexpr int kLinktypes[] = {0, 1, 9, 12, 14, 50, 101, 104, 108, 113, 228, 229, 276, 105};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2 || size - 2 > etcpipe::PacketBatch::kMaxPacket) return 0;
  static etcpipe::FlowPipeline* pipeline = [] {
    etcpipe::FlowPipelineConfig cfg;
    cfg.table.max_flows = 64;
    cfg.frag_slots = 16;
    return new etcpipe::FlowPipeline(cfg);
  }();
  static etcpipe::PacketBatch batch;
  static uint64_t ts = 0;
  batch.clear();
  batch.dlt = kLinktypes[data[0] % std::size(kLinktypes)];
  const auto caplen = static_cast<uint32_t>(size - 2);
  batch.push(ts += 1'000'000'000, data + 2, caplen, caplen + data[1]);
  pipeline->process(batch);
  pipeline->finished().clear();
  return 0;
}
