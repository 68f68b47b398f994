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
