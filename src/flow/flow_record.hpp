// A finished flow as written by the sinks, oriented client -> server ("fwd").
#pragma once

#include <cstdint>

#include "packet/packet.hpp"

namespace etcpipe {

// TimeReset: packet time went back by more than the shortest flow timeout (captures out
// of time order), which ends every flow open then. Interrupted: the run was stopped
// (SIGINT, SIGTERM) before the end of its input, and the flow was still open.
#define ETCPIPE_END_REASONS(X)  \
  X(Idle, "idle")               \
  X(Active, "active")           \
  X(Fin, "fin")                 \
  X(Rst, "rst")                 \
  X(Evicted, "evicted")         \
  X(EndOfInput, "end-of-input") \
  X(TimeReset, "time-reset")    \
  X(Interrupted, "interrupted")

enum class EndReason : uint8_t {
#define ETCPIPE_END_REASON_ENUM(e, s) e,
  ETCPIPE_END_REASONS(ETCPIPE_END_REASON_ENUM)
#undef ETCPIPE_END_REASON_ENUM
};
inline constexpr std::size_t kEndReasonCount = 0
#define ETCPIPE_END_REASON_COUNT(e, s) +1
    ETCPIPE_END_REASONS(ETCPIPE_END_REASON_COUNT)
#undef ETCPIPE_END_REASON_COUNT
    ;
const char* end_reason_name(EndReason r);

// What enforcement did to a classified flow (--enforce): nothing (no rule matched, or no
// policy), or its rule's action: pass (its packets go on as before), drop or bypass, from
// the verdict on, in XDP.
enum class FlowAction : uint8_t { None, Pass, Drop, Bypass };
const char* action_name(FlowAction a);

// Where a classified flow's verdict was made: by the model in user space, or, with classify
// --in-kernel, by the integer forest in XDP.
enum class DecidedIn : uint8_t { None, User, Kernel };
const char* decided_in_name(DecidedIn d);

struct FlowRecord {
  IpAddr src;  // client: sender of the first packet (of the SYN for TCP)
  IpAddr dst;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint8_t proto = 0;
  uint8_t ip_version = 0;
  uint16_t vlan = 0;
  uint16_t vlan_outer = 0;
  TunnelType tunnel = TunnelType::None;
  uint32_t tunnel_id = 0;
  uint64_t first_ns = 0;
  uint64_t last_ns = 0;
  uint64_t pkts_fwd = 0;
  uint64_t pkts_rev = 0;
  uint64_t bytes_fwd = 0;  // IP bytes (header + payload), as IPFIX octetDeltaCount
  uint64_t bytes_rev = 0;
  uint8_t tcp_flags_fwd = 0;
  uint8_t tcp_flags_rev = 0;
  EndReason end_reason = EndReason::Idle;
  // The verdict of classification (etcpipe classify): the class name (owned by the model),
  // null when the flow was not classified (verdict_status says why); the class probability
  // and the packet time from the flow's first packet to its verdict (plus the time its row
  // waited for inference).
  const char* label = nullptr;
  float confidence = 0;
  float verdict_latency_ms = 0;
  FlowAction action = FlowAction::None;
  DecidedIn decided_in = DecidedIn::None;
  bool action_dry_run = false;  // --enforce-dry-run: the action that would have been taken
  // Its row had fewer selected packets than the model's scope: not classified, label null.
  bool out_of_scope = false;
  // Not exported: the worker, the slot the flow had in its table and the slot's generation
  // (its exact identity: FlowTable::generation), and how many of its packets were selected
  // (feature extraction learns from these that the flow ended).
  uint32_t slot = 0;
  uint32_t generation = 0;
  uint16_t worker = 0;
  uint8_t selected = 0;
  bool no_row = false;       // feature extraction had no free row for the flow
  bool row_dropped = false;  // its row was finished but dropped: no verdict will come
};

}  // namespace etcpipe
