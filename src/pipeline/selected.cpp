#include "pipeline/selected.hpp"

#include <algorithm>
#include <cstring>

namespace etcpipe {

void SelectedBatch::push(const DecodedPacket& p, const FlowUpdate& u,
                         std::span<const uint8_t> data) {
  SelectedPacket& s = packets_[count_];
  s.meta = p;
  s.offset = count_ * snaplen_;
  s.copied = static_cast<uint32_t>(std::min<std::size_t>(data.size(), snaplen_));
  s.flow = u.flow;
  s.rank = u.rank;
  s.from_client = u.from_client;
  std::memcpy(arena_.get() + s.offset, data.data(), s.copied);
  ++count_;
}

SelectedRing::SelectedRing(uint16_t worker, uint32_t snaplen, uint32_t batches)
    : full_(batches), free_(batches) {
  for (uint32_t i = 0; i < batches; ++i) {
    auto& b = *all_.emplace_back(std::make_unique<SelectedBatch>(snaplen));
    b.worker = worker;
    free_.try_enqueue(&b);
  }
}

void SelectedRing::add(const DecodedPacket& p, const FlowUpdate& u, std::span<const uint8_t> data) {
  if (current_ == nullptr && !free_.try_dequeue(current_)) {
    ++stats_.copy_dropped;
    return;
  }
  current_->push(p, u, data);
  ++stats_.copied;
  if (current_->full()) hand_over();
}

void SelectedRing::hand_over() {
  if (current_ == nullptr || current_->size() == 0) return;
  full_.try_enqueue(current_);  // never full: the queue holds every batch
  current_ = nullptr;
}

}  // namespace etcpipe
