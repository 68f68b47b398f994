// Gives each flow record its verdict. Verdicts come from the classifier's stream (this join
// subscribes to it) when a flow's row is complete (its N-th selected packet, its timeout,
// or its end), records when the flow ends; either may come first.
// Both carry the flow's exact identity, (worker, table slot, the slot's generation): a slot
// reused after its flow ended holds the next flow under the next generation.
// Records of flows without a selected packet, without a feature row (none was free when
// they started), or whose row was dropped in their worker (a live link's consumer behind),
// go out at once, unclassified; those whose row was out of the model's scope go out with
// their verdict, unclassified.
#pragma once
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "export/sink.hpp"
#include "flow/flow_table.hpp"
#include "infer/classifier.hpp"
#include "session/flow_id.hpp"

namespace etcpipe {

struct VerdictStats {
  uint64_t classified = 0;
  uint64_t no_packets = 0;    // flows with no selected packet: nothing to classify
  uint64_t out_of_scope = 0;  // flows whose row had fewer packets than the model's scope
  uint64_t no_row = 0;        // flows that found no free feature row
  uint64_t no_verdict = 0;    // flows whose row was dropped (inference behind) or not joined
  std::vector<uint64_t> per_label;
  std::vector<float> latency_ms;              // of every classified flow
  double latency_percentile(double p) const;  // p in [0, 100]; 0 when none
};

class VerdictJoin final : public FlowSink {
 public:
  // Records go on to `out`, which is closed by close(). `timeouts` and `row_timeout_ns` (the
  // pipeline's) say when a row that waited for its flow's end or its timeout was complete.
  VerdictJoin(Classifier& classifier, const Model& model, const FlowTimeouts& timeouts,
              uint64_t row_timeout_ns, FlowSink& out);
  // Waits for the rows in flight (Classifier::finish), whose verdicts come to this join.
  ~VerdictJoin() override;
  VerdictJoin(const VerdictJoin&) = delete;
  VerdictJoin& operator=(const VerdictJoin&) = delete;
  void write(std::span<const FlowRecord> records) override;
  void summary(const std::string& stats_json) override { out_.summary(stats_json); }
  // Classifies what is left, joins, writes the records still waiting (unclassified) and
  // closes `out`.
  void close() override;
  // Joins the verdicts received so far (write() does too).
  void poll();
  const VerdictStats& stats() const { return stats_; }

 private:
  void emit(FlowRecord r, const Verdict* v);
  void flush();

  Classifier& classifier_;
  const Model& model_;
  FlowTimeouts timeouts_;
  uint64_t row_timeout_ns_;
  uint32_t n_;
  FlowSink& out_;
  std::unordered_map<FlowId, Verdict, FlowIdHash> verdicts_;    // waiting for their record
  std::unordered_map<FlowId, FlowRecord, FlowIdHash> records_;  // waiting for their verdict
  std::mutex inbox_mutex_;
  std::vector<Verdict> inbox_;  // received from the classifier's threads, not yet joined
  std::vector<Verdict> taken_;
  std::vector<FlowRecord> batch_;
  VerdictStats stats_;
};

}  // namespace etcpipe
