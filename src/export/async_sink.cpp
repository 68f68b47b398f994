#include "export/async_sink.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>

namespace etcpipe {

namespace {
constexpr std::size_t kRecordsPerBatch = 1024;
}

AsyncSink::AsyncSink(std::unique_ptr<FlowSink> inner, bool lossless, std::size_t batches)
    : inner_(std::move(inner)),
      lossless_(lossless),
      help_depth_(std::max<std::size_t>(1, batches / 2)),
      full_(batches + 1),
      free_(batches + 1) {
  for (std::size_t i = 0; i < batches + 1; ++i) {  // + 1: the closing item always finds one
    auto& b = *all_.emplace_back(std::make_unique<Batch>());
    b.records.reserve(kRecordsPerBatch);
    if (i < batches) free_.enqueue(&b);
  }
  thread_ = std::thread([this] { run(); });
}

AsyncSink::~AsyncSink() {
  if (!closed_) {
    try {
      close();
    } catch (const std::exception&) {  // reported by close() when called; nothing to do here
    }
  }
}

AsyncSink::Batch* AsyncSink::free_batch() {
  Batch* b = nullptr;
  if (free_.try_dequeue(b)) return b;
  if (!lossless_) return nullptr;
  // Sleeps until the sink thread frees a batch; looks at the give-up flag now and then.
  while (!free_.wait_dequeue_timed(b, std::chrono::milliseconds(20))) {
    if (give_up_ != nullptr && give_up_->load(std::memory_order_relaxed)) return nullptr;
  }
  return b;
}

void AsyncSink::write(std::span<const FlowRecord> records) {
  while (!records.empty()) {
    const std::size_t n = std::min(records.size(), kRecordsPerBatch);
    Batch* b = free_batch();
    if (b == nullptr) {
      dropped_ += records.size();
      return;
    }
    const auto part = records.first(n);
    b->formatted = lossless_ && full_.size_approx() >= help_depth_ && inner_->format(part, b->text);
    if (!b->formatted) b->records.assign(part.begin(), part.end());
    full_.enqueue(b);
    records = records.subspan(n);
  }
}

void AsyncSink::summary(const std::string& stats_json) {
  summary_ = stats_json;
}

void AsyncSink::run() {
  for (;;) {
    Batch* b = nullptr;
    full_.wait_dequeue(b);
    if (b->last) {
      try {
        if (!b->summary.empty()) inner_->summary(b->summary);
        inner_->close();
      } catch (const std::exception& e) {
        error_ = e.what();
      }
      return;
    }
    if (error_.empty()) {
      try {
        if (b->formatted) {
          inner_->write_text({b->text.data(), b->text.size()});
        } else {
          inner_->write(b->records);
        }
      } catch (const std::exception& e) {
        error_ = e.what();  // later batches are discarded; close() reports it
      }
    }
    b->records.clear();
    b->text.clear();
    free_.enqueue(b);
  }
}

void AsyncSink::close() {
  if (closed_) return;
  closed_ = true;
  Batch* last = all_.back().get();  // kept out of the free queue for this
  last->last = true;
  last->summary = summary_;
  full_.enqueue(last);
  thread_.join();
  if (!error_.empty()) throw std::runtime_error(error_);
}

}  // namespace etcpipe
