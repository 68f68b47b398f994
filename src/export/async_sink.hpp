// Runs a sink in a thread of its own, so that formatting and writing records happen beside
// the packet path instead of in it. Records travel in batches from a fixed pool through a
// single-producer single-consumer queue. When the sink cannot keep up (a slow disk, a
// database lock) and no batch is free, the records are dropped and counted, or, with
// `lossless` (file input: nothing is lost by waiting), the caller waits; before it would,
// when half the batches wait for the sink's thread, it makes the text of a text sink's
// batches itself (FlowSink::format), so that both threads format at the end of a file.
#pragma once

#include <readerwriterqueue/readerwriterqueue.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "export/sink.hpp"

namespace etcpipe {

class AsyncSink final : public FlowSink {
 public:
  AsyncSink(std::unique_ptr<FlowSink> inner, bool lossless, std::size_t batches = 64);
  ~AsyncSink() override;

  void write(std::span<const FlowRecord> records) override;
  void summary(const std::string& stats_json) override;
  // Waits for every queued record, closes the inner sink; rethrows its error, if any.
  void close() override;
  void report(std::vector<Report>& out) const override { inner_->report(out); }

  uint64_t dropped() const { return dropped_; }
  // While *flag is set, write() drops (and counts) records instead of waiting for a free
  // batch: the run is being ended and the output may never take them (a blocked pipe).
  void set_give_up(const std::atomic<bool>* flag) { give_up_ = flag; }

 private:
  struct Batch {
    std::vector<FlowRecord> records;
    fmt::memory_buffer text;  // the records' text, when the writing thread made it
    bool formatted = false;
    std::string summary;  // set on the last item only
    bool last = false;
  };
  Batch* free_batch();
  void run();

  std::unique_ptr<FlowSink> inner_;
  bool lossless_;
  std::size_t help_depth_;  // queued batches from which the caller formats
  std::vector<std::unique_ptr<Batch>> all_;
  moodycamel::BlockingReaderWriterQueue<Batch*> full_;
  moodycamel::BlockingReaderWriterQueue<Batch*> free_;  // waited on: no spinning
  std::thread thread_;
  std::string error_;  // the inner sink's failure (written by the thread, read after join)
  std::string summary_;
  uint64_t dropped_ = 0;
  const std::atomic<bool>* give_up_ = nullptr;
  bool closed_ = false;
};

}  // namespace etcpipe
