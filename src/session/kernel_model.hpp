// The integer form of a forest for the in-kernel classifier (classify --in-kernel): the
// kernel.json that `python3 -m etcpipe_train.train --arch kforest` writes beside the float
// model, in the layouts of capture/bpf/etcpipe_xdp.h ("In-kernel classification"). It is
// what XdpProgram::load_kernel_model() puts in the kernel's maps, and it predicts in user
// space exactly as the kernel does: the same integers, the same sums, the same tie rule.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "capture/bpf/etcpipe_xdp.h"

namespace etcpipe {

class KernelModel {
 public:
  // Reads kernel.json; throws std::runtime_error with the reason, and the limits when the
  // model is larger than the kernel program takes (etcpipe_xdp.h's ETCPIPE_KERNEL_MAX_*).
  static KernelModel load(const std::string& path);

  uint32_t packets() const { return packets_; }
  uint32_t classes() const { return classes_; }
  uint32_t trees() const { return static_cast<uint32_t>(roots_.size()); }
  const std::vector<etcpipe_kernel_node>& nodes() const { return nodes_; }
  const std::vector<etcpipe_kernel_leaf>& leaves() const { return leaves_; }
  const std::vector<uint32_t>& roots() const { return roots_; }

  struct Verdict {
    uint32_t cls = 0;
    uint32_t sum = 0;         // the class's score summed over the trees
    uint32_t confidence = 0;  // sum / trees: times 65535
    // etcpipe_flow_state.kernel_verdict's encoding
    uint32_t encoded() const { return (cls + 1) | confidence << 16; }
  };
  Verdict predict(const int32_t* value) const;
  // The score sum a confidence in [0, 1] stands for (compared with >=, as the kernel).
  uint32_t score_for(float confidence) const;
  // The kernel program's configuration for this model (trees, packets, roots), with the
  // score below which flows go to user space; no enforcement rule.
  etcpipe_kernel_config config(uint32_t min_score) const;

 private:
  uint32_t packets_ = 0, classes_ = 0;
  std::vector<uint32_t> inputs_;  // enum etcpipe_kernel_input, in the model's order
  std::vector<uint32_t> roots_;
  std::vector<etcpipe_kernel_node> nodes_;
  std::vector<etcpipe_kernel_leaf> leaves_;
};

}  // namespace etcpipe
