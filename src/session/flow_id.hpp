// A flow's exact identity across the run's threads: (worker, table slot, the slot's
// generation). A slot reused after its flow ended holds the next flow under the next
// generation. Verdicts (FlowInfo) and records (FlowRecord) both carry it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

namespace etcpipe {

struct FlowId {
  uint64_t worker_slot;  // worker << 32 | slot
  uint32_t generation;
  bool operator==(const FlowId&) const = default;

  static FlowId of(uint16_t worker, uint32_t slot, uint32_t generation) {
    return {uint64_t{worker} << 32 | slot, generation};
  }
};

struct FlowIdHash {
  std::size_t operator()(const FlowId& k) const {
    return std::hash<uint64_t>{}(k.worker_slot ^ uint64_t{k.generation} * 0x9E3779B97F4A7C15ULL);
  }
};

}  // namespace etcpipe
