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

// What the kernel runs, made before capture starts: the model (kernel.json and its classes),
// the confidence floor and the policy's rules.
struct KernelSetup {
  KernelModel model;
  std::vector<std::string> classes;  // labels.json of the model's directory
  EnforcePolicy policy;
  float min_confidence = 0;
  // Throws with the reason: the model, the kernel's limits, more rules than the kernel takes.
  static std::shared_ptr<const KernelSetup> load(const std::string& model_dir, float min_confidence,
                                                 EnforcePolicy policy);
  // Puts it into the XDP program; before the program is attached to an interface, so that
  // the kernel sees every flow from its first packet, as user space does.
  void install(XdpProgram& xdp) const;
};

class KernelClassifier final : public FlowSink {
 public:
  // `xdp`: the program `setup` was installed into. Records go on to `out`.
  KernelClassifier(std::shared_ptr<const KernelSetup> setup, std::shared_ptr<XdpProgram> xdp,
                   FlowSink& out);
  void write(std::span<const FlowRecord> records) override;
  void summary(const std::string& stats_json) override { out_.summary(stats_json); }
  void close() override { out_.close(); }

  KernelClassifierStats stats() const;
  std::string summary() const;  // one line for stderr
  nlohmann::json summary_json() const;

 private:
  std::shared_ptr<const KernelSetup> setup_;
  std::shared_ptr<XdpProgram> xdp_;
  FlowSink& out_;
  std::vector<FlowRecord> batch_;
  mutable std::mutex mu_;  // stats_ (read by the tick thread)
  KernelClassifierStats stats_;
};

}  // namespace etcpipe
