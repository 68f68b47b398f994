#include "export/async_sink.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <thread>

namespace etcpipe {
namespace {

// A sink that takes `delay` per batch and counts what it got.
class SlowSink final : public FlowSink {
 public:
  SlowSink(std::chrono::milliseconds delay, uint64_t& got, std::string& summary, bool fail)
      : delay_(delay), got_(got), summary_(summary), fail_(fail) {}
  void write(std::span<const FlowRecord> records) override {
    std::this_thread::sleep_for(delay_);
    if (fail_) throw std::runtime_error("disk full");
    got_ += records.size();
  }
  void summary(const std::string& s) override { summary_ = s; }
  void close() override {}

 private:
  std::chrono::milliseconds delay_;
  uint64_t& got_;
  std::string& summary_;
  bool fail_;
};

TEST(AsyncSink, DropsAndCountsWhatASlowSinkCannotTake) {
  uint64_t got = 0;
  std::string summary;
  AsyncSink sink(std::make_unique<SlowSink>(std::chrono::milliseconds(20), got, summary, false),
                 false, 2);
  const std::vector<FlowRecord> batch(100);
  for (int i = 0; i < 20; ++i) sink.write(batch);  // far faster than the sink
  sink.summary("{}");
  sink.close();
  EXPECT_GT(sink.dropped(), 0u);
  EXPECT_EQ(got + sink.dropped(), 2000u);  // every record delivered or counted
  EXPECT_EQ(summary, "{}");
}

TEST(AsyncSink, WaitsInsteadWhenAskedAndDeliversEverything) {
  uint64_t got = 0;
  std::string summary;
  AsyncSink sink(std::make_unique<SlowSink>(std::chrono::milliseconds(2), got, summary, false),
                 true, 2);
  const std::vector<FlowRecord> batch(3000);  // more than one batch of the pool each
  for (int i = 0; i < 5; ++i) sink.write(batch);
  sink.close();
  EXPECT_EQ(sink.dropped(), 0u);
  EXPECT_EQ(got, 15000u);
}

// A text sink: one line per record (its source port), batches slow to write.
class SlowTextSink final : public FlowSink {
 public:
  SlowTextSink(std::string& out, int& made_elsewhere)
      : out_(out), made_elsewhere_(made_elsewhere) {}
  void write(std::span<const FlowRecord> records) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    fmt::memory_buffer text;
    format(records, text);
    out_.append(text.data(), text.size());
  }
  bool format(std::span<const FlowRecord> records, fmt::memory_buffer& out) const override {
    for (const FlowRecord& r : records) fmt::format_to(std::back_inserter(out), "{}\n", r.src_port);
    return true;
  }
  void write_text(std::string_view text) override {
    ++made_elsewhere_;
    out_.append(text);
  }
  void close() override {}

 private:
  std::string& out_;
  int& made_elsewhere_;
};

TEST(AsyncSink, TheWaitingCallerFormatsTextBatchesAndTheOrderHolds) {
  std::string out;
  int made_elsewhere = 0;
  // Four batches: while the sink's thread sleeps on one, the caller queues the other three
  // and, waiting for the next, finds half the pool queued.
  AsyncSink sink(std::make_unique<SlowTextSink>(out, made_elsewhere), true, 4);
  std::vector<FlowRecord> records(20000);
  std::string expected;
  for (std::size_t i = 0; i < records.size(); ++i) {
    records[i].src_port = static_cast<uint16_t>(i);
    expected += std::to_string(i) + "\n";
  }
  for (std::size_t i = 0; i < records.size(); i += 2500) {
    sink.write(std::span(records).subspan(i, 2500));
  }
  sink.close();
  EXPECT_GT(made_elsewhere, 0);  // the sink's thread fell behind, so the caller helped
  EXPECT_EQ(out, expected);      // every record once, in order, whoever formatted it
}

TEST(AsyncSink, TheSinksFailureIsReportedAtClose) {
  uint64_t got = 0;
  std::string summary;
  AsyncSink sink(std::make_unique<SlowSink>(std::chrono::milliseconds(0), got, summary, true),
                 true);
  sink.write(std::vector<FlowRecord>(5));
  EXPECT_THROW(
      {
        try {
          sink.close();
        } catch (const std::runtime_error& e) {
          EXPECT_STREQ(e.what(), "disk full");
          throw;
        }
      },
      std::runtime_error);
}

}  // namespace
}  // namespace etcpipe
