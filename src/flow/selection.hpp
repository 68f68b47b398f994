// Selection rules: which packets of a flow go to feature extraction (ETCpipe's
// FlowManager filter: the first N packets of each flow that match).
#pragma once

#include <array>
#include <bitset>
#include <cstdint>
#include <memory>
#include <string_view>

namespace etcpipe {

enum class Direction : uint8_t { Both, ClientToServer, ServerToClient };

struct SelectionRules {
  uint32_t packets = 10;  // first N matching packets per flow; 0 selects nothing (<= 255)
  bool tcp = true;        // protocols whose packets may be selected
  bool udp = true;
  bool keep_empty = false;  // also packets without L4 payload (pure ACK, bare SYN/FIN/RST)
  Direction direction = Direction::Both;
  uint32_t min_payload = 0;  // bytes of L4 payload on the wire
  // L4 ports of which either the source or the destination must be one; null = any.
  std::shared_ptr<const std::bitset<65536>> ports;
  // Whether the packet stage's BPF selection filter (--select-filter) is in force: packets it
  // rejects arrive with DecodedPacket::select_match false.
};

// Why a packet of a flow was or was not selected: exactly one per packet in a flow.
#define ETCPIPE_SELECTIONS(X)      \
  X(Selected, "selected")          \
  X(NotSelectable, "not_tcp_udp")  \
  X(Filter, "select_filter")       \
  X(Port, "port")                  \
  X(NoPayload, "no_payload")       \
  X(ShortPayload, "short_payload") \
  X(WrongDirection, "direction")   \
  X(FlowHasEnough, "flow_has_n")

enum class Selection : uint8_t {
#define ETCPIPE_SELECTION_ENUM(e, s) e,
  ETCPIPE_SELECTIONS(ETCPIPE_SELECTION_ENUM)
#undef ETCPIPE_SELECTION_ENUM
};
inline constexpr std::size_t kSelectionCount = 0
#define ETCPIPE_SELECTION_COUNT(e, s) +1
    ETCPIPE_SELECTIONS(ETCPIPE_SELECTION_COUNT)
#undef ETCPIPE_SELECTION_COUNT
    ;
std::string_view selection_name(Selection s);
using SelectionCounts = std::array<uint64_t, kSelectionCount>;

}  // namespace etcpipe
