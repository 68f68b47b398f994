// One worker's flow table: bidirectional flows keyed by FlowKey, bounded capacity,
// idle/active/TCP-close timeouts on packet time, eviction of the least recently seen flow
// when full. Entries live in one memory-mapped array reserved at construction (pages are
// touched only as flows arrive) and are addressed by 32-bit indices; there is no
// allocation after construction.
// The index is an open-addressed array of 8-byte slots (the key's 32-bit hash and the
// entry's index), at least two slots per open flow, linear probing, deletion by backward
// shift: a lookup reads one slot line, finds the entry whose hash matches and touches only
// that entry, so a prefetch of it is right however many flows share the slot's line. It
// starts small and doubles (a rehash) when the open flows reach half its slots, up to two
// slots per flow of capacity: a table sized for millions of flows costs memory in
// proportion to the flows open, not to its capacity.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "common/time.hpp"
#include "common/zeroed_pages.hpp"
#include "flow/flow_key.hpp"
#include "flow/flow_record.hpp"
#include "flow/flow_update.hpp"
#include "packet/packet.hpp"

namespace etcpipe {

// A timeout of 0 is disabled (a flow never ends for that reason).
struct FlowTimeouts {
  uint64_t tcp_idle_ns = 300 * kNsPerSec;
  uint64_t udp_idle_ns = 60 * kNsPerSec;
  uint64_t other_idle_ns = 60 * kNsPerSec;
  uint64_t active_ns = 1800 * kNsPerSec;
  // After FIN in both directions or a RST the flow has ended; it lingers this long to
  // absorb the last ACKs and retransmissions before its record is written.
  uint64_t tcp_close_ns = 10 * kNsPerSec;
};

struct FlowTableConfig {
  uint32_t max_flows = 1 << 20;
  FlowTimeouts timeouts;
  SelectionRules select;
};

struct FlowTableStats {
  uint64_t created = 0;
  std::array<uint64_t, kEndReasonCount> ended{};  // indexed by EndReason
  uint64_t active = 0;
  uint64_t resident_bytes = 0;  // memory the table has touched (entries used + buckets)
  uint64_t peak_active = 0;
  SelectionCounts selection{};  // one per packet, indexed by Selection
};

// Each of W workers' tables holds 1/W of the capacity (one at least).
inline uint32_t per_worker_capacity(uint32_t max_flows, unsigned workers) {
  return std::max(1u, max_flows / workers);
}

class FlowTable {
 public:
  explicit FlowTable(const FlowTableConfig& cfg);
  ~FlowTable();
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  // Accounts one decoded packet to its flow, creating the flow (and evicting the least
  // recently seen one when full) as needed, and applies the selection rules. Flows that
  // end go to finished().
  FlowUpdate add(const DecodedPacket& p);
  // The same for a run of packets, in order, calling on_update(i, FlowUpdate) for each:
  // keys are computed and index slots and entries prefetched a chunk ahead, so the
  // cache misses of a large table overlap instead of stalling each packet.
  template <class OnUpdate>
  void add_batch(std::span<const DecodedPacket* const> packets, OnUpdate&& on_update);
  // Ends every flow whose idle or close timeout elapsed at packet time `now_ns`.
  void expire(uint64_t now_ns);
  // Ends every remaining flow, or at most `max_ends` of them: end of input, or packet time
  // going back (`forced` is the end reason of flows whose timeout has not passed). Returns
  // true when none is left; the table's clock then starts again. Flows end in slot order
  // (the entries are read sequentially, not by following the timer lists), and the index and
  // lists are cleared at the first call instead of flow by flow: once started, a flush is
  // called again until it returns true, with no add() or expire() in between.
  bool flush(EndReason forced = EndReason::EndOfInput,
             std::size_t max_ends = std::numeric_limits<std::size_t>::max());

  // Flows the slot held before the one it holds now: (worker, slot, generation) is a flow's
  // exact identity, carried into its row, its verdict and its record (FlowRecord).
  uint32_t generation(uint32_t slot) const;
  std::vector<FlowRecord>& finished() { return finished_; }
  const FlowTableStats& stats() const { return stats_; }
  uint32_t capacity() const { return cfg_.max_flows; }
  // Bytes one flow occupies in the table (entry + its two index slots).
  static std::size_t bytes_per_flow();
  // Memory the table has touched: entries ever used plus the index (as large as twice the
  // flows open at the busiest time, at least kInitialSlots, at most two per flow of capacity).
  std::size_t resident_bytes() const;

 private:
  enum Timer : uint8_t { kTcp, kUdp, kOther, kClosing, kTimerCount };
  static constexpr Timer kFree = kTimerCount;  // the timer of an entry that holds no flow
  // A flow is moved to the back of its timer list only when seen more than this long after
  // it was queued, not on every packet: lists stay in queue-time order, and a flow ends at
  // most this late after its idle timeout, never early.
  static constexpr uint64_t kRequeueNs = kNsPerSec;
  struct Entry;
  struct Slot {
    uint32_t hash;  // the key's hash: the slot's home, and a filter before the key compare
    uint32_t ref;   // entry index + 1; 0 = empty
  };
  static constexpr uint32_t kSlotsPerFlow = 2;         // load factor at most 1/2
  static constexpr uint32_t kInitialSlots = 1u << 15;  // 256 KiB
  void grow_index();
  struct List {
    uint32_t head = 0;  // entry index + 1; 0 = empty
    uint32_t tail = 0;
  };

  Entry& at(uint32_t ref);
  FlowUpdate add(const DecodedPacket& p, const FlowKey& key, bool from_lo, uint32_t hash);
  // The slot where a key of this hash starts probing (a multiply-shift onto the slots).
  uint32_t home(uint32_t hash) const {
    return static_cast<uint32_t>((uint64_t{hash} * nslots_) >> 32);
  }
  uint32_t next_slot(uint32_t i) const { return i + 1 == nslots_ ? 0 : i + 1; }
  void prefetch_slot(uint32_t hash) const { __builtin_prefetch(&slots_[home(hash)]); }
  void prefetch_entry(uint32_t hash) const;
  uint32_t find(const FlowKey& key, uint32_t hash);
  void index_insert(uint32_t ref, uint32_t hash);
  void index_erase(uint32_t ref, uint32_t hash);
  uint32_t create(const FlowKey& key, uint32_t hash, bool from_lo, const DecodedPacket& p);
  // Writes the flow's record and frees its entry; end() also takes it out of its timer
  // list and the index (flush() clears those at once).
  void end(uint32_t ref, EndReason reason);
  void release(uint32_t ref, EndReason reason);
  bool due(const Entry& e, uint64_t now_ns, EndReason& reason) const;
  void list_push_back(uint32_t ref);
  void list_unlink(uint32_t ref);
  uint32_t oldest();
  Selection select(const Entry& e, const DecodedPacket& p, bool from_client) const;

  FlowTableConfig cfg_;
  ZeroedPages<Entry> entries_;
  ZeroedPages<Slot> slots_;
  uint32_t nslots_ = 0;
  uint32_t max_slots_ = 0;  // kSlotsPerFlow per flow of capacity
  uint32_t used_ = 0;       // high-water mark of entries_
  uint32_t free_ = 0;       // free list through next_free
  std::array<List, kTimerCount> lists_{};
  std::array<uint64_t, kTimerCount> idle_ns_{};  // idle timeout per timer list (0: none)
  uint64_t now_ns_ = 0;                          // latest time passed to expire()
  uint32_t flush_next_ = 0;  // the next entry a flush in progress looks at (0: none)
  std::vector<FlowRecord> finished_;
  FlowTableStats stats_;
};

template <class OnUpdate>
void FlowTable::add_batch(std::span<const DecodedPacket* const> packets, OnUpdate&& on_update) {
  // A software pipeline over the packets: packet i+kKeyAhead gets its key computed and its
  // slot line prefetched, packet i+kEntryAhead its entry prefetched (its slot line has
  // arrived by then), packet i is accounted.
  constexpr std::size_t kKeyAhead = 16, kEntryAhead = 8, kRing = 32;
  FlowKey keys[kRing];
  uint32_t hashes[kRing];
  bool from_lo[kRing];
  const std::size_t n = packets.size();
  auto stage_key = [&](std::size_t j) {
    uint64_t hash;
    from_lo[j % kRing] = make_flow_key(packets[j]->tuple, keys[j % kRing], hash);
    hashes[j % kRing] = static_cast<uint32_t>(hash);
    prefetch_slot(hashes[j % kRing]);
  };
  for (std::size_t j = 0; j < std::min(n, kKeyAhead); ++j) stage_key(j);
  for (std::size_t j = 0; j < std::min(n, kEntryAhead); ++j) prefetch_entry(hashes[j % kRing]);
  for (std::size_t i = 0; i < n; ++i) {
    if (i + kKeyAhead < n) stage_key(i + kKeyAhead);
    if (i + kEntryAhead < n) prefetch_entry(hashes[(i + kEntryAhead) % kRing]);
    const std::size_t k = i % kRing;
    on_update(i, add(*packets[i], keys[k], from_lo[k], hashes[k]));
  }
}

}  // namespace etcpipe
