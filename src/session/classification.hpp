// What a classifying run adds to the flow pipeline (etcpipe classify, etcpipe bench
// --model): the model, its configuration, the classifier and the join of verdicts to records.
#pragma once
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "pipeline/run.hpp"
#include "session/enforcement.hpp"
#include "session/kernel_classifier.hpp"
#include "session/verdict_join.hpp"

namespace etcpipe {

// The bundled model: the source tree's when it is there, else the installed copy
// (PREFIX/share/etcpipe/models/default beside PREFIX/bin/etcpipe).
std::string default_model_dir();

struct ClassificationConfig {
  std::string model = default_model_dir();  // the model directory
  ClassifierConfig infer;
  uint32_t feature_rows = 0;  // 0: one for every flow (FlowPipelineConfig)
  // Seconds of packet time from a flow's first selected packet to its verdict at most; 0:
  // rows wait for N packets or the flow's end (offline datasets). 5 s: TLS and QUIC
  // handshakes and the first records after them come well within it even over slow links,
  // so verdicts lose little (docs/PERFORMANCE.md), and a probe acts within seconds.
  double verdict_timeout = 5;
  // --in-kernel: `model`'s integer forest classifies in XDP (KernelClassifier); flows it
  // leaves (below in_kernel_min_confidence, or no kernel verdict) are classified in user
  // space by cascade_model, or by `model`'s own float model when none is given.
  bool in_kernel = false;
  float in_kernel_min_confidence = 0;
  std::string cascade_model;
  // The model user space runs.
  const std::string& user_model() const {
    return in_kernel && !cascade_model.empty() ? cascade_model : model;
  }
};

class Classification {
 public:
  // Loads the model (throws with a clear message if it cannot be run).
  explicit Classification(const ClassificationConfig& c);
  const Model& model() const { return model_; }
  // Sets the pipeline up for the model (streaming extraction of its spec in the workers)
  // and starts the classifier.
  void configure(FlowPipelineConfig& cfg);
  // Before attach(): each verdict is also acted on by `policy`, in `xdp`'s verdict map (null:
  // a dry run, told to `log`). Throws std::invalid_argument for a label the model lacks.
  void enforce(EnforcePolicy policy, std::shared_ptr<XdpProgram> xdp,
               std::function<void(const std::string&)> log);
  const Enforcer* enforcer() const { return enforcer_.get(); }
  // Before attach(), with in_kernel: records take the kernel's verdicts from `xdp`, into which
  // `setup` was installed.
  void classify_in_kernel(std::shared_ptr<const KernelSetup> setup,
                          std::shared_ptr<XdpProgram> xdp);
  const KernelClassifier* kernel() const { return kernel_.get(); }
  // Verdicts join records on their way to `out` (through the enforcer, if any); rows come through
  // `ro.on_features`. Returns the sink the run writes to. `cfg`: the configuration configure() set
  // up (its timeouts date the verdicts).
  FlowSink& attach(RunOptions& ro, FlowSink& out, const FlowPipelineConfig& cfg);
  void poll() { join_->poll(); }
  const VerdictStats& verdicts() const { return join_->stats(); }
  ClassifierStats classifier_stats() const { return classifier_->stats(); }
  // Classified flows, latency percentiles and flows per label, for stderr.
  std::string summary() const;
  // The same as a JSON object (the "classification" member of --stats-json's last line).
  nlohmann::json summary_json() const;

 private:
  ClassificationConfig config_;
  Model model_;
  std::unique_ptr<Classifier> classifier_;
  std::unique_ptr<Enforcer> enforcer_;               // between the join and `out`
  std::unique_ptr<KernelClassifier> kernel_;         // between the join and the enforcer
  std::shared_ptr<const KernelSetup> kernel_setup_;  // set by classify_in_kernel()
  std::shared_ptr<XdpProgram> kernel_xdp_;
  std::unique_ptr<VerdictJoin> join_;
  struct PendingEnforcement {
    EnforcePolicy policy;
    std::shared_ptr<XdpProgram> xdp;
    std::function<void(const std::string&)> log;
  };
  std::optional<PendingEnforcement> enforcement_;

  // (flows, label) of the labels given, most flows first.
  std::vector<std::pair<uint64_t, std::string>> labels_by_count() const;
};

}  // namespace etcpipe
