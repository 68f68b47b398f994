// Selected packets (the first N of each flow that pass the selection rules), copied up to
// a snap length into batches that feed the feature extractor: ETCpipe's RING. Each worker
// owns a SelectedRing: it fills batches and hands them to the consumer through a
// single-producer single-consumer queue; the consumer gives them back through another.
// When no batch is free, the copy is dropped and counted: the packet path never waits.
#pragma once

#include <readerwriterqueue/readerwriterqueue.h>

#include <memory>
#include <span>
#include <vector>

#include "flow/flow_table.hpp"
#include "packet/packet.hpp"

namespace etcpipe {

struct SelectedPacket {
  DecodedPacket meta;  // offsets are into this packet's copied bytes
  uint32_t offset;     // of the copied bytes in the batch arena
  uint32_t copied;     // bytes copied (<= snap length, <= caplen)
  uint32_t flow;       // the flow's slot in its worker's table
  uint8_t rank;        // index among the flow's selected packets
  bool from_client;
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
  void push(const DecodedPacket& p, const FlowUpdate& u, std::span<const uint8_t> data);

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
  SelectedRing(uint16_t worker, uint32_t snaplen, uint32_t batches);

  // Worker side.
  void add(const DecodedPacket& p, const FlowUpdate& u, std::span<const uint8_t> data);
  void hand_over();  // passes the current batch on, even if not full
  const SelectedStats& stats() const { return stats_; }

  // Consumer side.
  SelectedBatch* take() {
    SelectedBatch* b = nullptr;
    return full_.try_dequeue(b) ? b : nullptr;
  }
  void give_back(SelectedBatch* b) {
    b->clear();
    free_.try_enqueue(b);  // never full: the queue holds every batch
  }

 private:
  std::vector<std::unique_ptr<SelectedBatch>> all_;
  moodycamel::ReaderWriterQueue<SelectedBatch*> full_;  // worker -> consumer
  moodycamel::ReaderWriterQueue<SelectedBatch*> free_;  // consumer -> worker
  SelectedBatch* current_ = nullptr;
  SelectedStats stats_;
};

}  // namespace etcpipe
