// The splitter's packet batches when several workers share one source (files): a batch is
// lent, whole, to the splitter that fills and dispatches it and to every work item that
// points at its packets; it goes back to the pool when the last of them releases it. Each
// batch is known by its slot, so retain and release cost an index, not a search.
#pragma once

#include <cassert>
#include <cstdint>
#include <memory>
#include <vector>

#include "capture/packet_batch.hpp"

namespace etcpipe {

class BatchPool {
 public:
  explicit BatchPool(std::size_t batches) : users_(batches, 0) {
    for (std::size_t i = 0; i < batches; ++i) {
      batches_.push_back(std::make_unique<PacketBatch>());
      free_.push_back(static_cast<uint32_t>(batches - 1 - i));  // slot 0 lent first
    }
  }

  bool empty() const { return free_.empty(); }
  // A free batch's slot, held by the caller (one user) until it releases it.
  uint32_t acquire() {
    assert(!free_.empty());
    const uint32_t slot = free_.back();
    free_.pop_back();
    users_[slot] = 1;
    return slot;
  }
  PacketBatch& batch(uint32_t slot) { return *batches_[slot]; }
  void retain(uint32_t slot) {
    assert(users_[slot] > 0);
    ++users_[slot];
  }
  void release(uint32_t slot) {
    assert(users_[slot] > 0);
    if (--users_[slot] == 0) free_.push_back(slot);
  }
  uint32_t users(uint32_t slot) const { return users_[slot]; }

 private:
  std::vector<std::unique_ptr<PacketBatch>> batches_;
  std::vector<uint32_t> users_;  // per slot: its users (0: in the free list)
  std::vector<uint32_t> free_;
};

}  // namespace etcpipe
