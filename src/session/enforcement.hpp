// Enforcement (--enforce): a policy turns each verdict into an action on its flow (pass, drop,
// bypass), which the Enforcer writes into the XDP program's flow verdict map as soon as the
// verdict is made, on the classifier's thread; XDP acts on the flow's next packet. When the
// flow's record comes (it ends in user space), the Enforcer takes the flow's entry out of the
// map and adds what XDP counted (packets, bytes, TCP flags each way, the last packet's time)
// to the record, so that records stay exact, and sets the record's `action`.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "capture/xdp_program.hpp"
#include "export/sink.hpp"
#include "infer/classifier.hpp"
#include "infer/model.hpp"
#include "session/flow_id.hpp"

namespace etcpipe {

struct EnforceRule {
  FlowAction action = FlowAction::None;
  std::string label;  // a class of the model, or "*": any classified flow
  float min_confidence = 0;
};

// Rules in order, first match wins; a flow no rule matches is left alone (FlowAction::None).
class EnforcePolicy {
 public:
  // ACTION:LABEL[@MINCONF]: ACTION pass, drop or bypass; MINCONF in [0, 1]. Throws
  // std::invalid_argument with the reason.
  static EnforceRule parse_rule(std::string_view text);
  void add(EnforceRule rule) { rules_.push_back(std::move(rule)); }
  // One rule per line; blank lines and '#' comments skipped. Throws std::runtime_error
  // naming the file and line.
  void add_file(const std::string& path);
  // Throws std::invalid_argument for a label that is not one of `classes` (nor "*").
  void check_labels(const std::vector<std::string>& classes) const;
  FlowAction decide(std::string_view label, float confidence) const;
  bool empty() const { return rules_.empty(); }
  const std::vector<EnforceRule>& rules() const { return rules_; }

 private:
  std::vector<EnforceRule> rules_;
};

// The verdict map's key of a record's flow; true when its client is the key's lo end.
bool record_map_key(const FlowRecord& r, etcpipe_flow_key& key);
// Adds what XDP counted in a flow's entry (packets, bytes, TCP flags each way, the last
// packet's time: monotonic + mono_to_real) to its record.
void merge_xdp_counts(FlowRecord& r, const etcpipe_flow_state& s, bool client_is_lo,
                      uint64_t mono_to_real);

struct EnforcementStats {
  uint64_t flows[4] = {};        // verdicts by action (FlowAction's order); a dry run: would be
  uint64_t tunnelled = 0;        // not acted on: XDP does not see a tunnel's inner flow
  uint64_t ended = 0;            // not acted on: the flow ended before its verdict (short flows)
  uint64_t map_errors = 0;       // the verdict map refused an entry
  uint64_t entries_evicted = 0;  // gone from the map before their flow ended (the map full)
  uint64_t kernel = 0;           // decided in the kernel (--in-kernel): left to it
  uint64_t packets[4] = {};      // acted on in XDP, merged into records, by action
  uint64_t bytes[4] = {};
  std::vector<float> latency_us;  // verdict to the first packet acted on, per flow
  double latency_percentile(double p) const;
};

class Enforcer final : public FlowSink {
 public:
  // `xdp` null: a dry run (what would be done is told to `log`, per flow, and written in the
  // records as would-ACTION). Records go on to `out`.
  // The program lives as long as the enforcer: verdicts in flight when a run fails still
  // reach act().
  Enforcer(EnforcePolicy policy, const Model& model, std::shared_ptr<XdpProgram> xdp, FlowSink& out,
           std::function<void(const std::string&)> log);
  // Verdicts, as they are made (a classifier subscriber; any thread).
  void act(std::span<const Verdict> verdicts);
  void write(std::span<const FlowRecord> records) override;
  void summary(const std::string& stats_json) override { out_.summary(stats_json); }
  void close() override { out_.close(); }

  bool dry_run() const { return xdp_ == nullptr; }
  // A dry run says at most this many flows a second (the rest as a count, the next second;
  // the summary counts them all).
  static constexpr uint32_t kDryRunLinesPerSecond = 20;
  EnforcementStats stats() const;
  // For the summary, --stats-json and --metrics; the XDP program's own counters included.
  std::string summary() const;
  nlohmann::json summary_json() const;
  std::string metrics() const;

 private:
  EnforcePolicy policy_;
  const Model& model_;
  std::shared_ptr<XdpProgram> xdp_;
  FlowSink& out_;
  std::function<void(const std::string&)> log_;
  void tell(const std::string& line);  // through log_, at most kDryRunLinesPerSecond a second

  mutable std::mutex mu_;  // stats_ (act() runs on the classifier's threads)
  std::mutex log_mu_;      // what follows
  uint64_t log_second_ = 0;
  uint32_t said_ = 0;
  uint64_t unsaid_ = 0;
  EnforcementStats stats_;
  // What act() decided for a flow alive at its verdict, until its record comes.
  struct Decision {
    FlowAction action;
    bool in_map = false;        // its entry was written (drop, bypass; not a dry run)
    bool client_is_lo = false;  // the record's forward direction is the entry's 0
    etcpipe_flow_key key{};
  };
  std::unordered_map<FlowId, Decision, FlowIdHash> decided_;
  std::vector<FlowRecord> batch_;
  uint64_t mono_to_real_ = 0;
};

}  // namespace etcpipe
