// What the flow table says of each packet it accounts: the flow's slot, and whether the
// packet is one of the flow's first N selected. Apart from the table so that the stages
// after it (selected-packet batches, feature extraction) need not include it.
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
  // Eight bytes, built and returned in a register for every packet (a twelfth byte made the
  // compiler assemble it on the stack and read it back: a store-forwarding stall). The
  // flow's exact identity adds the slot's generation: FlowTable::generation.
};
static_assert(sizeof(FlowUpdate) == 8);

}  // namespace etcpipe
