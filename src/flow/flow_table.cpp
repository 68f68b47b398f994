#include "flow/flow_table.hpp"

#include <algorithm>
#include <new>
#include <stdexcept>
#include <string>

namespace etcpipe {

const char* end_reason_name(EndReason r) {
  constexpr std::array<const char*, kEndReasonCount> kNames = {
#define ETCPIPE_END_REASON_NAME(e, n) n,
      ETCPIPE_END_REASONS(ETCPIPE_END_REASON_NAME)
#undef ETCPIPE_END_REASON_NAME
  };
  return kNames[static_cast<std::size_t>(r)];
}

const char* action_name(FlowAction a) {
  switch (a) {
    case FlowAction::Pass: return "pass";
    case FlowAction::Drop: return "drop";
    case FlowAction::Bypass: return "bypass";
    case FlowAction::None: break;
  }
  return "none";
}

// Two cache lines: the key and the timestamps (everything a lookup and a timeout check
// read) in the first, counters and links in the second.
struct alignas(64) FlowTable::Entry {
  FlowKey key;
  uint64_t first_ns;
  uint64_t last_ns;
  uint64_t queued_ns;  // last_ns when the entry was (re)appended to its timer list
  uint64_t pkts[2];    // [0] lo -> hi, [1] hi -> lo
  uint64_t bytes[2];
  union {
    uint32_t next_free;  // free list link (index + 1) while the entry is unused
    uint32_t prev;       // timer list links (index + 1) while it holds a flow
  };
  uint32_t next;
  uint32_t generation;  // flows the entry held before this one (FlowTable::generation)
  uint32_t tunnel_id;   // of the first packet (the key holds only symmetric ids)
  uint8_t tcp_flags[2];
  uint8_t client_is_lo;
  uint8_t fin_seen;  // bit 0: FIN from lo, bit 1: FIN from hi
  Timer timer;
  EndReason close_reason;  // Fin or Rst once the flow is in the closing list
  uint8_t selected;        // packets selected so far (first-N phase while < N)
};

uint32_t FlowTable::generation(uint32_t slot) const {
  return entries_[slot - 1].generation;
}

FlowTable::Entry& FlowTable::at(uint32_t ref) {
  return entries_[ref - 1];
}

std::size_t FlowTable::bytes_per_flow() {
  static_assert(sizeof(Entry) == 128, "an entry is two cache lines");
  return sizeof(Entry) + kSlotsPerFlow * sizeof(Slot);
}

std::size_t FlowTable::resident_bytes() const {
  return std::size_t{used_} * sizeof(Entry) + std::size_t{nslots_} * sizeof(Slot);
}

FlowTable::FlowTable(const FlowTableConfig& cfg) : cfg_(cfg) {
  static_assert(sizeof(Entry) == 128, "a flow entry is two cache lines");
  cfg_.max_flows = std::clamp<uint32_t>(cfg_.max_flows, 1, 1u << 31);
  max_slots_ = static_cast<uint32_t>(
      std::min<uint64_t>(uint64_t{cfg_.max_flows} * kSlotsPerFlow, ~uint32_t{0}));
  nslots_ = std::min(max_slots_, kInitialSlots);
  // Huge pages spare the TLB on lookups. Entries are used from the start of the array on, so
  // their huge pages are filled, not wasted. The index is touched at random, but it grows
  // with the flows (grow_index): doubled when half full, it holds a slot in use every 16
  // bytes on average, so nearly all its pages are touched anyway. Zero pages are empty slots.
  const char* what = "the flow table (lower --max-flows)";
  entries_ = ZeroedPages<Entry>(cfg_.max_flows, true, what);
  slots_ = ZeroedPages<Slot>(nslots_, true, what);
  idle_ns_ = {cfg_.timeouts.tcp_idle_ns, cfg_.timeouts.udp_idle_ns, cfg_.timeouts.other_idle_ns,
              cfg_.timeouts.tcp_close_ns};
  finished_.reserve(1024);
}

FlowTable::~FlowTable() = default;

namespace {
constexpr uint64_t kNever = ~uint64_t{0};
// Deadline `after` ns past `t`; 0 means no deadline.
uint64_t deadline(uint64_t t, uint64_t after) {
  return after == 0 || t > kNever - after ? kNever : t + after;
}
}  // namespace

// Whether the flow is over at packet time `now_ns`, and why. Timestamps may go backwards
// in a capture: a packet older than the flow's last one never ends it.
// Inlined into add(), as is select(): each runs once per packet.
[[gnu::always_inline]] inline bool FlowTable::due(const Entry& e, uint64_t now_ns,
                                                  EndReason& reason) const {
  if (now_ns <= e.last_ns) return false;
  const uint64_t idle_deadline = deadline(e.last_ns, idle_ns_[e.timer]);
  if (e.timer == kClosing) {
    reason = e.close_reason;
    return now_ns > idle_deadline;
  }
  const uint64_t active_deadline = deadline(e.first_ns, cfg_.timeouts.active_ns);
  if (now_ns > idle_deadline && idle_deadline <= active_deadline) {
    reason = EndReason::Idle;
    return true;
  }
  reason = EndReason::Active;
  return now_ns >= active_deadline;
}

uint32_t FlowTable::find(const FlowKey& key, uint32_t hash) {
  for (uint32_t i = home(hash);; i = next_slot(i)) {
    const Slot s = slots_[i];
    if (s.ref == 0) return 0;
    if (s.hash == hash && at(s.ref).key == key) return s.ref;
  }
}

// Doubles the index (up to max_slots_) and reinserts every slot. A run's first flows pay
// for a few rehashes (amortized: each slot is moved at most about once per doubling)
// instead of page faults spread over an index sized for the capacity.
void FlowTable::grow_index() {
  const uint32_t old_n = nslots_;
  const uint64_t doubled = uint64_t{nslots_} * 2;
  ZeroedPages<Slot> old = std::move(slots_);
  nslots_ = static_cast<uint32_t>(std::min<uint64_t>(doubled, max_slots_));
  slots_ = ZeroedPages<Slot>(nslots_, true, "the flow table (lower --max-flows)");
  for (uint32_t i = 0; i < old_n; ++i) {
    if (old[i].ref != 0) index_insert(old[i].ref, old[i].hash);
  }
}

void FlowTable::index_insert(uint32_t ref, uint32_t hash) {
  uint32_t i = home(hash);
  while (slots_[i].ref != 0) i = next_slot(i);
  slots_[i] = {hash, ref};
}

// Empties the entry's slot and moves later slots of the same probe run back into the gap,
// so that every key stays reachable from its home without tombstones.
void FlowTable::index_erase(uint32_t ref, uint32_t hash) {
  uint32_t gap = home(hash);
  while (slots_[gap].ref != ref) gap = next_slot(gap);
  const auto distance = [&](uint32_t from, uint32_t to) {
    return to >= from ? to - from : to + nslots_ - from;
  };
  for (uint32_t j = next_slot(gap); slots_[j].ref != 0; j = next_slot(j)) {
    // Slot j may fill the gap if the gap lies on its probe path (between its home and j).
    if (distance(home(slots_[j].hash), j) >= distance(gap, j)) {
      slots_[gap] = slots_[j];
      gap = j;
    }
  }
  slots_[gap] = {};
}

void FlowTable::list_push_back(uint32_t ref) {
  Entry& e = at(ref);
  e.queued_ns = e.last_ns;
  List& l = lists_[e.timer];
  e.prev = l.tail;
  e.next = 0;
  if (l.tail != 0) {
    at(l.tail).next = ref;
  } else {
    l.head = ref;
  }
  l.tail = ref;
}

void FlowTable::list_unlink(uint32_t ref) {
  Entry& e = at(ref);
  List& l = lists_[e.timer];
  if (e.prev != 0) {
    at(e.prev).next = e.next;
  } else {
    l.head = e.next;
  }
  if (e.next != 0) {
    at(e.next).prev = e.prev;
  } else {
    l.tail = e.prev;
  }
}

// The least recently seen flow over all timer lists (to within kRequeueNs).
uint32_t FlowTable::oldest() {
  uint32_t best = 0;
  for (const List& l : lists_) {
    if (l.head != 0 && (best == 0 || at(l.head).queued_ns < at(best).queued_ns)) best = l.head;
  }
  return best;
}

uint32_t FlowTable::create(const FlowKey& key, uint32_t hash, bool from_lo,
                           const DecodedPacket& p) {
  uint32_t ref;
  uint32_t generation = 0;  // an entry never used
  if (free_ == 0 && used_ < cfg_.max_flows) {
    ref = ++used_;
  } else {
    if (free_ == 0) end(oldest(), EndReason::Evicted);
    ref = free_;
    free_ = at(ref).next_free;
    generation = at(ref).generation + 1;
  }
  Entry& e = at(ref);
  e = Entry{};
  e.generation = generation;
  e.key = key;
  e.first_ns = e.last_ns = p.ts_ns;
  e.tunnel_id = p.tuple.tunnel_id;
  // The client sent the first packet, unless that packet answers a SYN we did not see.
  const bool syn_ack =
      (p.tcp_flags & (tcp_flag::kSyn | tcp_flag::kAck)) == (tcp_flag::kSyn | tcp_flag::kAck);
  e.client_is_lo = (key.proto == ipproto::kTcp && syn_ack) ? !from_lo : from_lo;
  e.timer = key.proto == ipproto::kTcp ? kTcp : key.proto == ipproto::kUdp ? kUdp : kOther;
  // Load at most 1/2 after this insert (stats_.active counts the flows in the index).
  if (nslots_ < max_slots_ && (stats_.active + 1) * kSlotsPerFlow > nslots_) grow_index();
  index_insert(ref, hash);
  list_push_back(ref);
  ++stats_.created;
  stats_.peak_active = std::max(++stats_.active, stats_.peak_active);
  stats_.resident_bytes = resident_bytes();
  return ref;
}

void FlowTable::end(uint32_t ref, EndReason reason) {
  list_unlink(ref);
  index_erase(ref, static_cast<uint32_t>(hash_flow_key(at(ref).key)));
  release(ref, reason);
}

void FlowTable::release(uint32_t ref, EndReason reason) {
  Entry& e = at(ref);
  const int fwd = e.client_is_lo ? 0 : 1;  // index of the client -> server direction
  const bool client_lo = e.client_is_lo != 0;
  FlowRecord& r = finished_.emplace_back();
  r.src = client_lo ? e.key.lo_addr : e.key.hi_addr;
  r.dst = client_lo ? e.key.hi_addr : e.key.lo_addr;
  r.src_port = client_lo ? e.key.lo_port : e.key.hi_port;
  r.dst_port = client_lo ? e.key.hi_port : e.key.lo_port;
  r.proto = e.key.proto;
  r.ip_version = e.key.ip_version;
  r.vlan = e.key.vlan;
  r.vlan_outer = e.key.vlan_outer;
  r.tunnel = e.key.tunnel;
  r.tunnel_id = e.tunnel_id;
  r.first_ns = e.first_ns;
  r.last_ns = e.last_ns;
  r.pkts_fwd = e.pkts[fwd];
  r.pkts_rev = e.pkts[1 - fwd];
  r.bytes_fwd = e.bytes[fwd];
  r.bytes_rev = e.bytes[1 - fwd];
  r.tcp_flags_fwd = e.tcp_flags[fwd];
  r.tcp_flags_rev = e.tcp_flags[1 - fwd];
  r.end_reason = reason;
  r.slot = ref;
  r.generation = e.generation;
  r.selected = e.selected;
  ++stats_.ended[static_cast<std::size_t>(reason)];
  --stats_.active;
  e.timer = kFree;
  e.next_free = free_;
  free_ = ref;
}

const char* decided_in_name(DecidedIn d) {
  return d == DecidedIn::Kernel ? "kernel" : d == DecidedIn::User ? "user" : "none";
}

std::string_view selection_name(Selection s) {
  constexpr std::array<std::string_view, kSelectionCount> kNames = {
#define ETCPIPE_SELECTION_NAME(e, n) n,
      ETCPIPE_SELECTIONS(ETCPIPE_SELECTION_NAME)
#undef ETCPIPE_SELECTION_NAME
  };
  return kNames[static_cast<std::size_t>(s)];
}

// The first rule the packet fails, in a fixed order, or Selected.
[[gnu::always_inline]] inline Selection FlowTable::select(const Entry& e, const DecodedPacket& p,
                                                          bool from_client) const {
  const SelectionRules& r = cfg_.select;
  const uint8_t proto = e.key.proto;
  if (!((proto == ipproto::kTcp && r.tcp) || (proto == ipproto::kUdp && r.udp))) {
    return Selection::NotSelectable;
  }
  if (!p.select_match) return Selection::Filter;
  if (r.ports && !r.ports->test(e.key.lo_port) && !r.ports->test(e.key.hi_port)) {
    return Selection::Port;
  }
  if (p.payload_len == 0 && !r.keep_empty) return Selection::NoPayload;
  if (p.payload_len < r.min_payload) return Selection::ShortPayload;
  if ((r.direction == Direction::ClientToServer && !from_client) ||
      (r.direction == Direction::ServerToClient && from_client)) {
    return Selection::WrongDirection;
  }
  if (e.selected >= r.packets) return Selection::FlowHasEnough;
  return Selection::Selected;
}

void FlowTable::prefetch_entry(uint32_t hash) const {
  for (uint32_t i = home(hash);; i = next_slot(i)) {
    const Slot s = slots_[i];
    if (s.ref == 0) return;  // a new flow: nothing to fetch
    if (s.hash == hash) {    // both cache lines: every packet reads the first, writes the second
      const auto* e = reinterpret_cast<const char*>(&entries_[s.ref - 1]);
      __builtin_prefetch(e);
      __builtin_prefetch(e + 64, 1);
      return;
    }
  }
}

FlowUpdate FlowTable::add(const DecodedPacket& p) {
  FlowKey key;
  uint64_t hash;
  const bool from_lo = make_flow_key(p.tuple, key, hash);
  return add(p, key, from_lo, static_cast<uint32_t>(hash));
}

FlowUpdate FlowTable::add(const DecodedPacket& p, const FlowKey& key, bool from_lo, uint32_t hash) {
  uint32_t ref = find(key, hash);
  if (ref != 0) {
    EndReason reason;
    const Entry& e = at(ref);
    const bool new_syn =
        e.timer == kClosing && (p.tcp_flags & (tcp_flag::kSyn | tcp_flag::kAck)) == tcp_flag::kSyn;
    if (due(e, p.ts_ns, reason)) {
      end(ref, reason);
      ref = 0;
    } else if (new_syn) {  // the 5-tuple is reused by a new connection
      end(ref, e.close_reason);
      ref = 0;
    }
  }
  if (ref == 0) ref = create(key, hash, from_lo, p);

  Entry& e = at(ref);
  const int dir = from_lo ? 0 : 1;
  ++e.pkts[dir];
  e.bytes[dir] += p.ip_len;
  e.tcp_flags[dir] |= p.tcp_flags;
  e.last_ns = std::max(e.last_ns, p.ts_ns);
  bool requeue = e.last_ns > e.queued_ns + kRequeueNs;
  if (e.key.proto == ipproto::kTcp && e.timer != kClosing) {
    if (p.tcp_flags & tcp_flag::kFin) e.fin_seen |= static_cast<uint8_t>(1u << dir);
    const bool rst = (p.tcp_flags & tcp_flag::kRst) != 0;
    if (rst || e.fin_seen == 0x3) {
      list_unlink(ref);
      e.timer = kClosing;
      e.close_reason = rst ? EndReason::Rst : EndReason::Fin;
      list_push_back(ref);
      requeue = false;
    }
  }
  if (requeue) {
    list_unlink(ref);
    list_push_back(ref);
  }
  const bool from_client = from_lo == (e.client_is_lo != 0);
  const Selection sel = select(e, p, from_client);
  ++stats_.selection[static_cast<std::size_t>(sel)];
  const uint8_t rank = e.selected;
  if (sel == Selection::Selected) ++e.selected;
  return {ref, sel, rank, from_client};
}

void FlowTable::expire(uint64_t now_ns) {
  now_ns_ = std::max(now_ns_, now_ns);
  for (int t = 0; t < kTimerCount; ++t) {
    const List& l = lists_[t];
    const uint64_t idle = idle_ns_[t];
    EndReason reason;
    // Flows behind the head were queued later; none is idle before its queue time.
    while (l.head != 0 && now_ns > deadline(at(l.head).queued_ns, idle)) {
      const uint32_t head = l.head;
      if (due(at(head), now_ns, reason)) {
        end(head, reason);
      } else {  // seen less than kRequeueNs after it was queued: not idle yet
        list_unlink(head);
        list_push_back(head);
      }
    }
  }
}

bool FlowTable::flush(EndReason forced, std::size_t max_ends) {
  if (flush_next_ == 0) {
    flush_next_ = 1;
    lists_ = {};
    std::fill_n(&slots_[0], nslots_, Slot{});
  }
  EndReason reason;
  for (; flush_next_ <= used_; ++flush_next_) {
    const Entry& e = at(flush_next_);
    if (e.timer == kFree) continue;
    if (max_ends == 0) return false;
    --max_ends;
    // A flow whose timeout passed but was not yet swept ends by it.
    release(flush_next_, due(e, now_ns_, reason) ? reason : forced);
  }
  flush_next_ = 0;
  now_ns_ = 0;  // the clock starts again with the next packet (after a time reset)
  return true;
}

}  // namespace etcpipe
