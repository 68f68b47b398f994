// The per-worker flow stage: decode every packet of a batch, attach later IP fragments to
// their datagram's flow, account each packet to its flow, then expire idle flows. Every
// packet gets exactly one Outcome.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "capture/packet_batch.hpp"
#include "flow/flow_table.hpp"
#include "flow/fragment_tracker.hpp"
#include "packet/decoder.hpp"

namespace etcpipe {

struct FlowPipelineConfig {
  DecoderOptions decoder;
  FlowTableConfig table;
  uint32_t frag_slots = 4096;                 // fragment table entries (64 B each)
  uint64_t frag_timeout_ns = 30 * kNsPerSec;  // as Linux's ipfrag_time
};

class FlowPipeline {
 public:
  explicit FlowPipeline(const FlowPipelineConfig& cfg);

  void process(const PacketBatch& batch);
  // Ends every flow still open (end of input or shutdown).
  void flush() { table_.flush(); }

  // Records of the flows that ended since the caller last cleared it.
  std::vector<FlowRecord>& finished() { return table_.finished(); }

  const OutcomeCounts& outcomes() const { return outcomes_; }
  const FlowTableStats& flow_stats() const { return table_.stats(); }
  const FragmentStats& fragment_stats() const { return frags_.stats(); }
  uint64_t decapsulated() const { return decapsulated_; }

 private:
  FlowPipelineConfig cfg_;
  FlowTable table_;
  FragmentTracker frags_;
  std::array<DecodedPacket, PacketBatch::kCapacity> decoded_;
  std::array<Outcome, PacketBatch::kCapacity> outcome_;
  OutcomeCounts outcomes_{};
  uint64_t decapsulated_ = 0;
  uint64_t now_ns_ = 0;  // latest packet time seen
};

}  // namespace etcpipe
