#include "pipeline/flow_pipeline.hpp"

#include <algorithm>

namespace etcpipe {

FlowPipeline::FlowPipeline(const FlowPipelineConfig& cfg)
    : cfg_(cfg), table_(cfg.table), frags_(cfg.frag_slots, cfg.frag_timeout_ns) {}

void FlowPipeline::process(const PacketBatch& batch) {
  const uint32_t n = batch.size();
  // Stage 1: decode the whole batch.
  for (uint32_t i = 0; i < n; ++i) {
    const PacketRef& ref = batch.ref(i);
    decoded_[i].ts_ns = ref.ts_ns;
    outcome_[i] = decode_packet(batch.dlt, batch.bytes(i), ref.wire_len, cfg_.decoder, decoded_[i]);
  }
  // Stage 2: fragments, then flows, in arrival order.
  for (uint32_t i = 0; i < n; ++i) {
    DecodedPacket& p = decoded_[i];
    Outcome o = outcome_[i];
    if (o == Outcome::Ok) {
      if (p.frag == FragKind::First) {
        frags_.on_first(p);
      } else if (p.frag == FragKind::Later && !frags_.on_later(p)) {
        o = Outcome::FragmentWithoutFirst;
      }
    }
    ++outcomes_[static_cast<std::size_t>(o)];
    if (o != Outcome::Ok) continue;
    if (p.tuple.tunnel != TunnelType::None) ++decapsulated_;
    table_.add(p);
    now_ns_ = std::max(now_ns_, p.ts_ns);
  }
  // Stage 3: timeouts at the latest packet time.
  table_.expire(now_ns_);
}

}  // namespace etcpipe
