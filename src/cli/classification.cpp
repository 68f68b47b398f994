#include "cli/classification.hpp"

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <thread>

namespace etcpipe::cli {

std::string default_model_dir() {
  namespace fs = std::filesystem;
  if (fs::is_directory(ETCPIPE_DEFAULT_MODEL)) return ETCPIPE_DEFAULT_MODEL;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  const fs::path installed = exe.parent_path().parent_path() / "share/etcpipe/models/default";
  return !ec && fs::is_directory(installed) ? installed.string() : ETCPIPE_DEFAULT_MODEL;
}

void add_inference_options(CLI::App* cmd, InferenceOptions& o) {
  auto* inf = cmd->add_option_group("Inference");
  inf->add_option("-m,--model", o.model, "Model directory (model.json, labels.json, spec.json)")
      ->capture_default_str();
  inf->add_option_function<std::string>(
         "--device",
         [&o](const std::string& d) { o.infer.device = d == "cuda" ? Device::Cuda : Device::Cpu; },
         "Where the engines run: cpu, or cuda (TorchScript models, with a libtorch built with "
         "CUDA and a GPU)")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->default_str("cpu");
  inf->add_option("--max-delay-ms", o.infer.max_delay_ms,
                  "A complete row waits at most this long (wall clock) for its batch")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  inf->add_option("--batch", o.infer.batch,
                  "Rows per inference batch (default: calibrated on the model at start)")
      ->check(CLI::Range(1, 4096));
  inf->add_option("--infer-threads", o.infer.threads,
                  "Inference threads (default: as many as the rate of rows needs, more while "
                  "batches queue up, up to the number of cores)")
      ->check(CLI::Range(1, 256));
  inf->add_option("--min-confidence", o.infer.min_confidence,
                  "Below this class probability the verdict is the model's catch-all class")
      ->check(CLI::Range(0.0, 1.0));
  inf->add_option("--verdict-timeout", o.verdict_timeout,
                  "Classify a flow with the packets it has this many seconds (packet time) after "
                  "its first selected one, if it has not N by then; 0: wait for N packets or "
                  "the flow's end")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6));
  inf->add_option("--feature-rows", o.feature_rows,
                  "Flows whose rows are being filled at once, per worker (default: one for "
                  "every flow the flow table holds, so that every flow can be classified; "
                  "memory is used only as rows are: N x 13 + 244 bytes a row, plus N x L with a "
                  "byte matrix); "
                  "a flow that finds every row in use is not classified (verdict_status "
                  "no-row)")
      ->check(CLI::Range(1u, 1u << 26));
}

Classification::Classification(const InferenceOptions& o)
    : opts_(o), model_(Model::load(o.model)) {}

void Classification::configure(FlowPipelineConfig& cfg) {
  cfg.streaming = model_.spec;
  cfg.feature_rows = opts_.feature_rows;
  cfg.row_timeout_ns = uint64_t(opts_.verdict_timeout * 1e9);
  cfg.table.select.packets = model_.spec.packets;
  // Inference may have every core: threads beyond the first start only while batches queue
  // up, that is while the reader and workers are waiting for inference anyway.
  ClassifierConfig c = opts_.infer;
  c.max_threads = std::max(1u, std::thread::hardware_concurrency());
  classifier_ = std::make_unique<Classifier>(model_, c);
}

FlowSink& Classification::attach(RunOptions& ro, FlowSink& out, const FlowPipelineConfig& cfg) {
  join_ = std::make_unique<VerdictJoin>(*classifier_, model_, cfg.table.timeouts,
                                        cfg.row_timeout_ns, out);
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
          {"per_label", per_label}};
}

std::string Classification::summary() const {
  const VerdictStats& v = join_->stats();
  const ClassifierStats cs = classifier_->stats();
  std::ostringstream s;
  s << "classified " << v.classified << " flows with " << model_.name << " (batch " << cs.batch
    << ", " << cs.threads_peak << " inference thread(s) at most, " << cs.deadline_batches << " of "
    << cs.batches << " batches sent at their deadline)";
  if (v.no_packets != 0) s << "; " << v.no_packets << " without a selected packet";
  if (v.no_row != 0) s << "; " << v.no_row << " without a feature row (every row in use)";
  if (v.no_verdict != 0) s << "; " << v.no_verdict << " without a verdict";
  if (cs.dropped != 0) s << "; " << cs.dropped << " rows dropped (inference behind)";
  s << "\nverdict latency ms: p50 " << v.latency_percentile(50) << ", p99 "
    << v.latency_percentile(99) << "\nflows per label:\n";
  for (const auto& [n, label] : labels_by_count()) {
    s << "  " << label << std::string(label.size() < 24 ? 24 - label.size() : 1, ' ') << n << '\n';
  }
  return s.str();
}

}  // namespace etcpipe::cli
