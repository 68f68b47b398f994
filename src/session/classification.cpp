#include "session/classification.hpp"

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <thread>

namespace etcpipe {

std::string default_model_dir() {
  namespace fs = std::filesystem;
  if (fs::is_directory(ETCPIPE_DEFAULT_MODEL)) return ETCPIPE_DEFAULT_MODEL;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  const fs::path installed = exe.parent_path().parent_path() / "share/etcpipe/models/default";
  return !ec && fs::is_directory(installed) ? installed.string() : ETCPIPE_DEFAULT_MODEL;
}

Classification::Classification(const ClassificationConfig& c)
    : config_(c), model_(Model::load(c.user_model())) {}

void Classification::configure(FlowPipelineConfig& cfg) {
  cfg.streaming = model_.spec;
  cfg.feature_rows = config_.feature_rows;
  cfg.row_timeout_ns = uint64_t(config_.verdict_timeout * 1e9);
  cfg.table.select.packets = model_.spec.packets;
  // Inference may have every core: threads beyond the first start only while batches queue
  // up, that is while the workers are waiting for inference anyway.
  ClassifierConfig c = config_.infer;
  c.max_threads = std::max(1u, std::thread::hardware_concurrency());
  classifier_ = std::make_unique<Classifier>(model_, c);
}

void Classification::enforce(EnforcePolicy policy, std::shared_ptr<XdpProgram> xdp,
                             std::function<void(const std::string&)> log) {
  policy.check_labels(model_.classes);
  enforcement_ = PendingEnforcement{std::move(policy), std::move(xdp), std::move(log)};
}

void Classification::classify_in_kernel(std::shared_ptr<const KernelSetup> setup,
                                        std::shared_ptr<XdpProgram> xdp) {
  kernel_setup_ = std::move(setup);
  kernel_xdp_ = std::move(xdp);
}

FlowSink& Classification::attach(RunOptions& ro, FlowSink& out, const FlowPipelineConfig& cfg) {
  FlowSink* records = &out;
  if (enforcement_) {
    enforcer_ =
        std::make_unique<Enforcer>(std::move(enforcement_->policy), model_,
                                   std::move(enforcement_->xdp), out, std::move(enforcement_->log));
    // Subscribed before the join: a flow's entry is in the map before its verdict can reach
    // its record (which takes the entry out).
    classifier_->subscribe([e = enforcer_.get()](std::span<const Verdict> v) { e->act(v); });
    records = enforcer_.get();
  }
  if (kernel_xdp_) {
    kernel_ = std::make_unique<KernelClassifier>(std::move(kernel_setup_), std::move(kernel_xdp_),
                                                 *records);
    records = kernel_.get();
  }
  join_ = std::make_unique<VerdictJoin>(*classifier_, model_, cfg.table.timeouts,
                                        cfg.row_timeout_ns, *records);
  ro.on_features = [this](const FeatureBatch& b) { classifier_->add(b); };
  return *join_;
}

std::vector<std::pair<uint64_t, std::string>> Classification::labels_by_count() const {
  const VerdictStats& v = join_->stats();
  std::vector<std::pair<uint64_t, std::string>> labels;
  for (std::size_t i = 0; i < v.per_label.size(); ++i) {
    if (v.per_label[i] != 0) labels.emplace_back(v.per_label[i], model_.classes[i]);
  }
  std::sort(labels.rbegin(), labels.rend());
  return labels;
}

nlohmann::json Classification::summary_json() const {
  const VerdictStats& v = join_->stats();
  const ClassifierStats cs = classifier_->stats();
  nlohmann::json per_label = nlohmann::json::object();
  for (const auto& [n, label] : labels_by_count()) per_label[label] = n;
  return {{"model", model_.name},
          {"classified", v.classified},
          {"without_selected_packet", v.no_packets},
          {"out_of_scope", v.out_of_scope},
          {"without_row", v.no_row},
          {"without_verdict", v.no_verdict},
          {"rows_dropped", cs.dropped},
          {"batch", cs.batch},
          {"batches", cs.batches},
          {"deadline_batches", cs.deadline_batches},
          {"infer_threads_peak", cs.threads_peak},
          {"infer_busy_seconds", cs.busy_seconds},
          {"verdict_latency_ms_p50", v.latency_percentile(50)},
          {"verdict_latency_ms_p99", v.latency_percentile(99)},
          {"per_label", per_label},
          {"enforcement", enforcer_ ? enforcer_->summary_json() : nlohmann::json()},
          {"in_kernel", kernel_ ? kernel_->summary_json() : nlohmann::json()}};
}

std::string Classification::summary() const {
  const VerdictStats& v = join_->stats();
  const ClassifierStats cs = classifier_->stats();
  std::ostringstream s;
  s << "classified " << v.classified << " flows with " << model_.name << " (batch " << cs.batch
    << ", " << cs.threads_peak << " inference thread(s) at most, " << cs.deadline_batches << " of "
    << cs.batches << " batches sent at their deadline)";
  if (v.no_packets != 0) s << "; " << v.no_packets << " without a selected packet";
  if (v.out_of_scope != 0) {
    s << "; " << v.out_of_scope << " out of the model's scope (fewer than "
      << model_.scope.min_packets << " selected packets)";
  }
  if (v.no_row != 0) s << "; " << v.no_row << " without a feature row (every row in use)";
  if (v.no_verdict != 0) s << "; " << v.no_verdict << " without a verdict";
  if (cs.dropped != 0) s << "; " << cs.dropped << " rows dropped (inference behind)";
  s << "\nverdict latency ms: p50 " << v.latency_percentile(50) << ", p99 "
    << v.latency_percentile(99) << "\nflows per label:\n";
  for (const auto& [n, label] : labels_by_count()) {
    s << "  " << label << std::string(label.size() < 24 ? 24 - label.size() : 1, ' ') << n << '\n';
  }
  if (kernel_) s << kernel_->summary();
  if (enforcer_) s << enforcer_->summary();
  return s.str();
}

}  // namespace etcpipe
