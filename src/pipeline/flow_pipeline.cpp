#include "pipeline/flow_pipeline.hpp"

namespace etcpipe {

PacketStage::PacketStage(const FlowPipelineConfig& cfg)
    : decoder_(cfg.decoder),
      frags_(cfg.frag_slots, cfg.frag_timeout_ns),
      select_filter_(cfg.select_filter) {}

}  // namespace etcpipe
