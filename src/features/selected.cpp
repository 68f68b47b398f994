#include "features/selected.hpp"

#include <algorithm>
#include <cstring>

namespace etcpipe {

void SelectedBatch::push(const DecodedPacket& p, const FlowUpdate& u, uint32_t generation,
                         std::span<const uint8_t> data) {
  SelectedPacket& s = packets_[count_];
  s.meta = p;
  s.offset = count_ * snaplen_;
  s.copied = static_cast<uint32_t>(std::min<std::size_t>(data.size(), snaplen_));
  s.slot = u.slot;
  s.generation = generation;
  s.rank = u.rank;
  s.from_client = u.from_client;
  s.end = false;
  std::memcpy(arena_.get() + s.offset, data.data(), s.copied);
  ++count_;
}

void SelectedBatch::push_end(uint32_t slot) {
  SelectedPacket& s = packets_[count_++];
  s.offset = 0;
  s.copied = 0;
  s.slot = slot;
  s.generation = 0;  // an end is of whatever flow the slot holds
  s.rank = 0;
  s.from_client = false;
  s.end = true;
}

SelectedRing::SelectedRing(uint16_t worker, uint32_t snaplen, uint32_t batches, uint32_t slots)
    : ring_(batches,
            [&] {
              auto b = std::make_unique<SelectedBatch>(snaplen);
              b->worker = worker;
              return b;
            }),
      end_kept_(std::size_t{slots} + 1) {
  if (batches > 0) kept_ends_.reserve(std::size_t{slots} + 1);
}

SelectedBatch* SelectedRing::batch() {
  SelectedBatch* b = ring_.current();
  while (b != nullptr && !kept_ends_.empty()) {
    const uint32_t slot = kept_ends_.back();
    kept_ends_.pop_back();
    end_kept_[slot] = false;
    b->push_end(slot);
    if (b->full()) {
      ring_.hand_over();
      b = ring_.current();
    }
  }
  return b;
}

void SelectedRing::add(const DecodedPacket& p, const FlowUpdate& u, uint32_t generation,
                       std::span<const uint8_t> data) {
  SelectedBatch* b = batch();
  if (b == nullptr) {
    ++stats_.copy_dropped;
    return;
  }
  b->push(p, u, generation, data);
  ++stats_.copied;
  if (b->full()) ring_.hand_over();
}

void SelectedRing::hand_over() {
  if (!kept_ends_.empty()) batch();
  ring_.hand_over();
}

void SelectedRing::end(uint32_t slot) {
  SelectedBatch* b = batch();
  if (b == nullptr) {
    // No packet of any flow gets through until a batch is free, so ends of one slot are
    // all alike and their order among slots does not matter: one kept per slot.
    if (!end_kept_[slot]) {
      end_kept_[slot] = true;
      kept_ends_.push_back(slot);
    }
    return;
  }
  b->push_end(slot);
  if (b->full()) ring_.hand_over();
}

}  // namespace etcpipe
