// What the flow table says of each packet it accounts: the flow's slot and identity, and
// whether the packet is one of the flow's first N selected. Apart from the table so that
// the stages after it (selected-packet batches, feature extraction) need not include it.
#pragma once

#include <cstdint>

#include "flow/selection.hpp"

namespace etcpipe {

// What became of one packet in the table.
struct FlowUpdate {
  uint32_t slot;        // the flow's slot in this table (stable while the flow lives)
  Selection selection;  // whether it is one of the flow's first N selected packets
  uint8_t rank;         // if selected: its index among the flow's selected packets
  bool from_client;
  // Flows the slot held before this one: (worker, slot, generation) is the flow's exact
  // identity, carried into its row, its verdict and its record (FlowRecord::generation).
  uint32_t generation = 0;
};

}  // namespace etcpipe
