// Selected packets (the first N of each flow that pass the selection rules), copied up to
// a snap length into batches that feed the consumer-side feature extractors: ETCpipe's
// RING. Each worker owns a SelectedRing and hands full batches to the consumer. The
// stream also carries "flow ended" markers, in order with the packets, so that an
// extractor knows when a flow slot is reused and when a short flow is complete.
// When no batch is free, a packet's copy is dropped and counted (the packet path never
// waits); ends are kept (one per slot at most) and delivered before the next packet.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "features/handoff.hpp"
#include "flow/flow_update.hpp"
#include "packet/packet.hpp"

namespace etcpipe {

struct SelectedPacket {
  DecodedPacket meta;   // offsets are into this packet's copied bytes
  uint32_t offset;      // of the copied bytes in the batch arena
  uint32_t copied;      // bytes copied (<= snap length, <= caplen)
  uint32_t slot;        // the flow's slot in its worker's table
  uint32_t generation;  // of the slot (FlowTable::generation)
  uint8_t rank;         // index among the flow's selected packets
  bool from_client;
  bool end;  // not a packet: the flow in this slot ended
};

class SelectedBatch {
 public:
  static constexpr uint32_t kCapacity = 256;
  explicit SelectedBatch(uint32_t snaplen)
      : arena_(new uint8_t[std::size_t{kCapacity} * snaplen]), snaplen_(snaplen) {}

  uint16_t worker = 0;
  uint32_t size() const { return count_; }
  bool full() const { return count_ == kCapacity; }
  void clear() { count_ = 0; }
  const SelectedPacket& packet(uint32_t i) const { return packets_[i]; }
  std::span<const uint8_t> bytes(uint32_t i) const {
    return {arena_.get() + packets_[i].offset, packets_[i].copied};
  }
  const uint8_t* arena() const { return arena_.get(); }
  uint32_t snaplen() const { return snaplen_; }  // arena bytes per entry
  void push(const DecodedPacket& p, const FlowUpdate& u, uint32_t generation,
            std::span<const uint8_t> data);
  void push_end(uint32_t slot);

 private:
  std::unique_ptr<uint8_t[]> arena_;
  uint32_t snaplen_;
  SelectedPacket packets_[kCapacity];
  uint32_t count_ = 0;
};

struct SelectedStats {
  uint64_t copied = 0;        // selected packets handed to the consumer
  uint64_t copy_dropped = 0;  // selected packets whose copy found no free batch
};

class SelectedRing {
 public:
  // `slots`: the flow table's capacity (bounds the ends kept while no batch is free).
  SelectedRing(uint16_t worker, uint32_t snaplen, uint32_t batches, uint32_t slots);

  // Worker side.
  void add(const DecodedPacket& p, const FlowUpdate& u, uint32_t generation,
           std::span<const uint8_t> data);
  void end(uint32_t slot);
  // Passes the current batch on, even if not full (kept ends first, if a batch is free).
  void hand_over();
  void set_lossless(std::function<void()> make_room) { ring_.set_lossless(std::move(make_room)); }
  const SelectedStats& stats() const { return stats_; }

  // Consumer side.
  SelectedBatch* take() { return ring_.take(); }
  Backlog backlog() const { return ring_.backlog(); }
  void give_back(SelectedBatch* b) { ring_.give_back(b); }

 private:
  SelectedBatch* batch();  // with room for one entry, kept ends delivered first; or null

  HandoffRing<SelectedBatch> ring_;
  std::vector<uint32_t> kept_ends_;  // slots whose end found no free batch
  std::vector<bool> end_kept_;       // by slot
  SelectedStats stats_;
};

}  // namespace etcpipe
