#include "monitor/web_view.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>

#include "common/time.hpp"
#include "export/format.hpp"
#include "export/record_fields.hpp"
#include "monitor/web_page.hpp"  // kWebPage, made by the build from web_page.html

namespace etcpipe {
namespace {

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

uint64_t bytes_of(const FlowRecord& r) {
  return r.bytes_fwd + r.bytes_rev;
}

}  // namespace

WebView::WebView(const std::string& addr_port, std::string command, std::string input,
                 bool verdicts)
    : command_(std::move(command)),
      input_(std::move(input)),
      started_at_(utc_iso8601(std::time(nullptr))),
      verdicts_(verdicts),
      start_(std::chrono::steady_clock::now()),
      server_(addr_port, "--web",
              {{"/", "text/html; charset=utf-8", [] { return std::string(kWebPage); }},
               {"/api/status", "application/json", [this] { return status_json(); }}}) {}

class WebView::Tap final : public FlowSink {
 public:
  explicit Tap(WebView& view) : view_(view) {}
  void write(std::span<const FlowRecord> records) override { view_.take(records); }
  void close() override {}

 private:
  WebView& view_;
};

std::unique_ptr<FlowSink> WebView::tap() {
  return std::make_unique<Tap>(*this);
}

int64_t WebView::oldest_bucket(double unix_seconds) {
  const int64_t now = static_cast<int64_t>(unix_seconds) / kBucketSeconds * kBucketSeconds;
  return now - int64_t{kBucketSeconds} * (kBuckets - 1);
}

void WebView::take(std::span<const FlowRecord> records) {
  const double now = unix_now();
  const int64_t bucket_start = static_cast<int64_t>(now) / kBucketSeconds * kBucketSeconds;
  std::lock_guard lock(mu_);
  if (buckets_.empty() || buckets_.back().start != bucket_start) {
    buckets_.push_back({bucket_start, {}});
    const int64_t oldest = oldest_bucket(now);
    std::erase_if(buckets_, [oldest](const Bucket& b) { return b.start < oldest; });
  }
  auto& counts = buckets_.back().counts;
  for (const FlowRecord& r : records) {
    ++written_;
    if (r.label != nullptr) ++classified_;
    last_records_[last_next_] = {r, now};
    last_next_ = (last_next_ + 1) % kLastRecords;
    const std::string_view label = r.label != nullptr ? std::string_view(r.label) : "(none)";
    auto c =
        std::find_if(counts.begin(), counts.end(), [&](const auto& e) { return e.first == label; });
    if (c == counts.end()) {
      counts.emplace_back(label, 1);
    } else {
      ++c->second;
    }
    if (top_.size() < kTopFlows || bytes_of(r) > bytes_of(top_.back().record)) {
      if (top_.size() == kTopFlows) top_.pop_back();
      const auto at = std::find_if(top_.begin(), top_.end(),
                                   [&](const Seen& s) { return bytes_of(s.record) < bytes_of(r); });
      top_.insert(at, {r, now});
    }
  }
}

void WebView::update(const RunStats& s, const std::string& enforcement) {
  std::string stats = format_stats_json(s);
  std::lock_guard lock(mu_);
  enforcement_ = enforcement;
  const double dt = s.elapsed_s - last_.elapsed_s;
  if (dt > 0) {
    rate_packets_ = double(s.source.packets - last_.source.packets) / dt;
    rate_bytes_ = double(s.source.bytes - last_.source.bytes) / dt;
    rate_flows_ = double(s.flows.created - last_.flows.created) / dt;
  }
  last_ = s;
  stats_.swap(stats);
}

void WebView::finish(const RunStats& s, const std::string& enforcement) {
  update(s, enforcement);
  std::lock_guard lock(mu_);
  running_ = false;
}

std::string WebView::status_json() {
  using nlohmann::json;
  auto flow = [this](const Seen& seen) {
    const FlowRecord& r = seen.record;
    char src[64], dst[64], proto[8];
    json j = {{"at", seen.at},
              {"src_ip", format_ip(r.src, r.ip_version, src)},
              {"dst_ip", format_ip(r.dst, r.ip_version, dst)},
              {"src_port", r.src_port},
              {"dst_port", r.dst_port},
              {"proto", proto_name(r.proto, proto)},
              {"packets", r.pkts_fwd + r.pkts_rev},
              {"bytes", bytes_of(r)},
              {"label", nullptr},
              {"confidence", nullptr},
              {"verdict_status", verdicts_ ? verdict_status(r) : "none"}};
    if (r.label != nullptr) {
      j["label"] = r.label;
      if (std::isfinite(r.confidence)) j["confidence"] = r.confidence;
    }
    return j;
  };
  std::lock_guard lock(mu_);
  json j = {
      {"etcpipe", ETCPIPE_VERSION},
      {"command", command_},
      {"input", input_},
      {"started_at", started_at_},
      {"uptime_s",
       std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count()},
      {"running", running_},
      {"stats", json::parse(stats_)},
      {"rates",
       {{"packets_per_s", rate_packets_},
        {"bytes_per_s", rate_bytes_},
        {"flows_per_s", rate_flows_}}},
      {"records", {{"written", written_}, {"classified", classified_}}},
      {"enforcement", enforcement_.empty() ? json() : json::parse(enforcement_)},
  };
  json& last = j["verdicts"] = json::array();
  const std::size_t held = std::min<uint64_t>(written_, kLastRecords);
  for (std::size_t i = 1; i <= held; ++i) {  // newest first
    last.push_back(flow(last_records_[(last_next_ + kLastRecords - i) % kLastRecords]));
  }
  json& top = j["top_flows"] = json::array();
  for (const Seen& s : top_) top.push_back(flow(s));
  json buckets = json::array();
  const int64_t oldest = oldest_bucket(unix_now());
  for (const Bucket& b : buckets_) {
    if (b.start < oldest) continue;  // kept until the next record: a quiet link
    json counts = json::object();
    for (const auto& [label, n] : b.counts) counts[std::string(label)] = n;
    buckets.push_back({{"start", b.start}, {"counts", std::move(counts)}});
  }
  j["labels"] = {{"bucket_s", kBucketSeconds}, {"buckets", std::move(buckets)}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);  // a path not in UTF-8
}

}  // namespace etcpipe
