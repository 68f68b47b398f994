// --web ADDR:PORT: a live view of the run for people watching the probe. GET / is a page of
// its own (src/monitor/web_page.html, embedded in the binary: no external assets) that polls
// GET /api/status once a second. That JSON object (docs: README, "Live web view") holds the
// latest statistics snapshot (the --stats-json object), rates over the last interval, the
// last 50 records written (with their verdicts), records per label in 10-second buckets over
// the last 5 minutes, the 10 largest flows by bytes, and the enforcement counters (null: no
// enforcement in this run).
// The records reach the view through tap(), a sink beside the others in the output thread;
// statistics through update() from the run loop's tick. Both take a mutex once per batch or
// snapshot; the server's threads format the JSON on request. Nothing runs per packet.
#pragma once

#include <array>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "export/sink.hpp"
#include "monitor/http_server.hpp"

namespace etcpipe {

class WebView {
 public:
  static constexpr std::size_t kLastRecords = 50;
  static constexpr std::size_t kTopFlows = 10;
  static constexpr int kBucketSeconds = 10;
  static constexpr std::size_t kBuckets = 30;

  // `command`: flows or classify; `input`: what is read, as text. Binds ADDR:PORT; throws
  // std::runtime_error if it cannot.
  WebView(const std::string& addr_port, std::string command, std::string input, bool verdicts);

  // A sink that hands every record written to the view (add it to the run's outputs).
  std::unique_ptr<FlowSink> tap();
  // `enforcement`: the enforcement counters as a JSON object (empty: no enforcement).
  void update(const RunStats& s, const std::string& enforcement = {});
  // The run is over: the last snapshot says so (running: false) until the process exits.
  void finish(const RunStats& s, const std::string& enforcement = {});

  // The /api/status object.
  std::string status_json();

 private:
  struct Seen {
    FlowRecord record;
    double at = 0;  // when it was written, Unix seconds
  };
  struct Bucket {
    int64_t start = 0;  // Unix seconds, a multiple of kBucketSeconds
    std::vector<std::pair<std::string_view, uint64_t>> counts;  // labels live as long as the model
  };
  class Tap;
  void take(std::span<const FlowRecord> records);
  // The start of the oldest 10-second bucket kept at `unix_seconds`.
  static int64_t oldest_bucket(double unix_seconds);

  std::string command_, input_, started_at_;
  bool verdicts_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mu_;  // guards what follows
  std::string stats_ = "{}";
  std::string enforcement_;  // JSON; empty: null
  bool running_ = true;
  double rate_packets_ = 0, rate_bytes_ = 0, rate_flows_ = 0;
  RunStats last_;  // the snapshot the rates are measured from
  uint64_t written_ = 0, classified_ = 0;
  std::array<Seen, kLastRecords> last_records_{};
  std::size_t last_next_ = 0;    // the ring's next slot
  std::vector<Seen> top_;        // largest first
  std::vector<Bucket> buckets_;  // oldest first
  HttpServer server_;            // last: stopped before the state it reads goes
};

}  // namespace etcpipe
