// Tree ensembles exported from scikit-learn (python/etcpipe_train/export.py), the file
// format of docs/MODELS.md:
//   {"format": "etcpipe-trees/1", "kind": "forest" | "boosting", "features": F,
//    "classes": C, "init": [C floats, boosting only],
//    "trees": [{"feature": [...], "threshold": [...], "left": [...], "right": [...],
//               "value": [[C floats] per leaf, [] for other nodes]}, ...]}
// A node with feature -1 is a leaf. A row goes left when x[feature] <= threshold (as
// scikit-learn, with x as float32 and the threshold as double). forest: the mean of the
// leaves' class distributions. boosting: softmax(init + sum of the leaves' values).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "infer/engine.hpp"

namespace etcpipe {

class TreeEnsemble {
 public:
  // Throws std::runtime_error on a malformed file (out-of-range child or feature, cycles).
  static TreeEnsemble load(const std::string& path);
  uint32_t features() const { return features_; }
  uint32_t classes() const { return classes_; }
  // Class probabilities of one feature vector.
  void predict(const float* x, float* probs) const;

 private:
  struct Node {
    int32_t feature;  // -1: leaf
    int32_t left, right;
    double threshold;
  };
  bool boosting_ = false;
  uint32_t features_ = 0, classes_ = 0;
  std::vector<uint32_t> roots_;  // index of each tree's root in nodes_
  std::vector<Node> nodes_;
  std::vector<float> values_;  // classes_ per node
  std::vector<float> init_;
};

class TreeEngine final : public Engine {
 public:
  // Throws std::runtime_error if the inputs do not make trees.features() values.
  TreeEngine(std::shared_ptr<const TreeEnsemble> trees, const FeatureSpec& spec,
             std::vector<ModelInput> inputs);
  void infer(const FeatureRows& rows, uint32_t count, float* scores) override;

 private:
  std::shared_ptr<const TreeEnsemble> trees_;
  std::vector<ModelInput> inputs_;
  std::vector<float> x_;
};

}  // namespace etcpipe
