// In-kernel classification (classify --in-kernel): puts the model directory's integer forest
// (kernel.json, KernelModel) and the enforcement policy's rules into the XDP program, which
// then classifies each flow at its K-th selected packet and acts on it at once. As records
// come, the stage takes each flow's state out of the program's maps: a flow decided in the
// kernel gets the kernel's label, confidence and action, and XDP's counts of the packets it
// acted on (decided_in "kernel"); the others (below --in-kernel-min-confidence, fewer than K
// packets, not seen from their start) keep user space's verdict (decided_in "user"). It sits
// between the verdict join and the enforcer, which leaves the kernel's flows alone.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "capture/xdp_program.hpp"
#include "export/sink.hpp"
#include "session/enforcement.hpp"
#include "session/kernel_model.hpp"

namespace etcpipe {

struct KernelClassifierStats {
  uint64_t kernel = 0;     // records whose verdict the kernel made
  uint64_t below = 0;      // the kernel's confidence fell short: user space decided
  uint64_t undecided = 0;  // the kernel had no verdict (fewer than K packets, a tunnel, ...)
  // Kernel verdicts that differ from the user-space prediction of the same model on the values
  // the kernel kept (KernelModel::predict): a self-check, 0 unless the program is wrong.
  uint64_t differ = 0;
  std::vector<uint64_t> per_label;  // kernel verdicts, by the kernel model's class
};

class KernelClassifier final : public FlowSink {
 public:
  // Loads `model_dir`/kernel.json into `xdp` with the policy's rules (throws with the reason:
  // the model, the kernel's limits, more rules than the kernel takes). Records go on to `out`.
  KernelClassifier(const std::string& model_dir, float min_confidence, const EnforcePolicy& policy,
                   std::shared_ptr<XdpProgram> xdp, FlowSink& out);
  void write(std::span<const FlowRecord> records) override;
  void summary(const std::string& stats_json) override { out_.summary(stats_json); }
  void close() override { out_.close(); }

  const std::vector<std::string>& classes() const { return classes_; }
  KernelClassifierStats stats() const;
  std::string summary() const;  // one line for stderr
  nlohmann::json summary_json() const;

 private:
  KernelModel model_;
  std::vector<std::string> classes_;  // the kernel model's (labels.json of its directory)
  EnforcePolicy policy_;
  float min_confidence_;
  std::shared_ptr<XdpProgram> xdp_;
  FlowSink& out_;
  std::vector<FlowRecord> batch_;
  mutable std::mutex mu_;  // stats_ (read by the tick thread)
  KernelClassifierStats stats_;
};

}  // namespace etcpipe
