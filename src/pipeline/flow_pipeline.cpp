#include "pipeline/flow_pipeline.hpp"

namespace etcpipe {

namespace {
uint64_t shortest_timeout(const FlowTimeouts& t) {
  uint64_t least = 0;
  for (uint64_t ns : {t.tcp_idle_ns, t.udp_idle_ns, t.other_idle_ns, t.active_ns, t.tcp_close_ns}) {
    if (ns != 0 && (least == 0 || ns < least)) least = ns;
  }
  return least;
}
}  // namespace

PacketStage::PacketStage(const FlowPipelineConfig& cfg)
    : decoder_(cfg.decoder),
      reset_after_ns_(shortest_timeout(cfg.table.timeouts)),
      frags_(cfg.frag_slots, cfg.frag_timeout_ns),
      select_filter_(cfg.select_filter) {}

FlowStage::FlowStage(const FlowPipelineConfig& cfg, uint16_t worker)
    : worker_(worker),
      copy_selected_(cfg.copy_selected),
      table_(cfg.table),
      selected_(worker, cfg.select_snaplen, copy_selected_ ? cfg.selected_batches : 0,
                table_.capacity()) {
  if (cfg.streaming) {
    features_.emplace(*cfg.streaming, cfg.feature_batches);
    const uint64_t every_flow =
        uint64_t{table_.capacity()} + uint64_t{cfg.feature_batches} * FeatureBatch::kCapacity;
    const auto rows = cfg.feature_rows != 0
                          ? cfg.feature_rows
                          : static_cast<uint32_t>(std::min<uint64_t>(every_flow, ~uint32_t{0}));
    streaming_.emplace(*cfg.streaming, rows, table_.capacity(), worker, cfg.select_snaplen,
                       *features_, cfg.row_timeout_ns);
  }
}

void FlowStage::report_ends() {
  std::vector<FlowRecord>& f = table_.finished();
  for (; reported_ < f.size(); ++reported_) {
    FlowRecord& r = f[reported_];
    r.worker = worker_;
    if (r.selected == 0) continue;
    if (streaming_) {
      const RowFate fate = streaming_->end(r.slot);
      r.no_row = fate == RowFate::NoRow;
      r.row_dropped = fate == RowFate::Dropped;
    }
    if (copy_selected_) selected_.end(r.slot);
  }
}

void FlowStage::hand_over() {
  report_ends();
  selected_.hand_over();
  if (streaming_) streaming_->hand_over();
}

void FlowStage::set_lossless(const std::function<void()>& make_room) {
  selected_.set_lossless(make_room);
  if (features_) features_->set_lossless(make_room);
}

void FlowStage::take_finished(std::vector<FlowRecord>& out) {
  report_ends();
  out.clear();
  out.swap(table_.finished());
  reported_ = 0;
}

}  // namespace etcpipe
