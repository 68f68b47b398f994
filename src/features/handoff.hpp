// A fixed set of batches passed from one producer thread to one consumer thread and back
// through two single-producer single-consumer queues (moodycamel's, from Debian's
// libreaderwriterqueue-dev). By default the producer never waits: when no batch is free it
// is told so and counts what it could not hand on (a live capture must not stall). With a
// `make_room` function (file input: nothing is lost by waiting), it calls that until a batch
// is free (a wake of the consumer's thread, and a backoff).
#pragma once

#include <readerwriterqueue/readerwriterqueue.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace etcpipe {

// How many handed-over batches wait for the consumer: none, some, or half of them or more.
enum class Backlog : uint8_t { None, Some, Half };

// Backlog of `queued` batches out of `all`.
inline Backlog backlog_of(std::size_t queued, std::size_t all) {
  return queued == 0 ? Backlog::None : 2 * queued >= all ? Backlog::Half : Backlog::Some;
}

template <class Batch>
class HandoffRing {
 public:
  template <class Make>
  HandoffRing(uint32_t batches, Make&& make) : full_(batches), free_(batches) {
    for (uint32_t i = 0; i < batches; ++i) free_.try_enqueue(all_.emplace_back(make()).get());
  }

  void set_lossless(std::function<void()> make_room) { make_room_ = std::move(make_room); }
  // What the producer does with a batch back from the consumer before filling it again
  // (default: clear it).
  void set_reclaim(std::function<void(Batch&)> reclaim) { reclaim_ = std::move(reclaim); }

  // Producer side: the batch being filled (taken from the free queue if need be), or null.
  Batch* current() {
    if (current_ != nullptr) return current_;
    while (!free_.try_dequeue(current_)) {
      if (!make_room_) return nullptr;
      make_room_();
    }
    if (reclaim_) {
      reclaim_(*current_);
    } else {
      current_->clear();
    }
    return current_;
  }
  // Passes the current batch on, if it holds anything.
  void hand_over() {
    if (current_ == nullptr || current_->size() == 0) return;
    full_.try_enqueue(current_);  // never full: the queue holds every batch
    current_ = nullptr;
  }

  // Either side: how many batches wait for the consumer.
  Backlog backlog() const { return backlog_of(full_.size_approx(), all_.size()); }
  // Consumer side.
  Batch* take() {
    Batch* b = nullptr;
    return full_.try_dequeue(b) ? b : nullptr;
  }
  // The batch is emptied by the producer when it takes it again (current()).
  void give_back(Batch* b) {
    free_.try_enqueue(b);  // never full
  }

 private:
  std::vector<std::unique_ptr<Batch>> all_;
  moodycamel::ReaderWriterQueue<Batch*> full_;  // producer -> consumer
  moodycamel::ReaderWriterQueue<Batch*> free_;  // consumer -> producer
  Batch* current_ = nullptr;
  std::function<void()> make_room_;
  std::function<void(Batch&)> reclaim_;
};

}  // namespace etcpipe
