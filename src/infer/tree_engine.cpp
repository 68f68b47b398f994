#include "infer/tree_engine.hpp"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace etcpipe {

TreeEnsemble TreeEnsemble::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path + ": not JSON: " + e.what());
  }
  auto bad = [&](const std::string& what) { return std::runtime_error(path + ": " + what); };
  if (j.value("format", "") != "etcpipe-trees/1") throw bad("format is not etcpipe-trees/1");
  TreeEnsemble t;
  try {
    const std::string kind = j.at("kind");
    if (kind != "forest" && kind != "boosting") throw bad("kind must be forest or boosting");
    t.boosting_ = kind == "boosting";
    t.features_ = j.at("features");
    t.classes_ = j.at("classes");
    if (t.classes_ < 1 || t.features_ < 1) throw bad("no features or no classes");
    if (t.boosting_) {
      t.init_ = j.at("init").get<std::vector<float>>();
      if (t.init_.size() != t.classes_) throw bad("init needs one value per class");
    }
    for (const auto& tree : j.at("trees")) {
      const auto feature = tree.at("feature").get<std::vector<int32_t>>();
      const auto threshold = tree.at("threshold").get<std::vector<double>>();
      const auto left = tree.at("left").get<std::vector<int32_t>>();
      const auto right = tree.at("right").get<std::vector<int32_t>>();
      const auto& value = tree.at("value");
      const std::size_t n = feature.size();
      if (n == 0 || threshold.size() != n || left.size() != n || right.size() != n ||
          value.size() != n) {
        throw bad("tree " + std::to_string(t.roots_.size()) + ": arrays of unequal length");
      }
      const auto base = int32_t(t.nodes_.size());
      t.roots_.push_back(uint32_t(base));
      for (std::size_t i = 0; i < n; ++i) {
        const bool leaf = feature[i] < 0;
        // Children come after their parent (scikit-learn's depth-first order): no cycles.
        if (!leaf && (feature[i] >= int32_t(t.features_) || left[i] <= int32_t(i) ||
                      right[i] <= int32_t(i) || left[i] >= int32_t(n) || right[i] >= int32_t(n))) {
          throw bad("tree " + std::to_string(t.roots_.size() - 1) + " node " + std::to_string(i) +
                    ": feature or child out of range");
        }
        t.nodes_.push_back({leaf ? -1 : feature[i], base + left[i], base + right[i], threshold[i]});
        auto v = value[i].get<std::vector<float>>();
        if (!leaf) v.assign(t.classes_, 0.0f);  // only leaves' values are read
        if (v.size() != t.classes_) throw bad("a leaf's value needs one value per class");
        t.values_.insert(t.values_.end(), v.begin(), v.end());
      }
    }
  } catch (const nlohmann::json::exception& e) {
    throw bad(e.what());
  }
  if (t.roots_.empty()) throw bad("no trees");
  return t;
}

void TreeEnsemble::predict(const float* x, float* probs) const {
  const uint32_t c = classes_;
  for (uint32_t k = 0; k < c; ++k) probs[k] = boosting_ ? init_[k] : 0.0f;
  for (const uint32_t root : roots_) {
    uint32_t i = root;
    while (nodes_[i].feature >= 0) {
      const Node& n = nodes_[i];
      i = uint32_t(double(x[n.feature]) <= n.threshold ? n.left : n.right);
    }
    const float* v = &values_[std::size_t{i} * c];
    for (uint32_t k = 0; k < c; ++k) probs[k] += v[k];
  }
  if (boosting_) {
    float top = probs[0];
    for (uint32_t k = 1; k < c; ++k) top = std::max(top, probs[k]);
    float sum = 0;
    for (uint32_t k = 0; k < c; ++k) sum += probs[k] = std::exp(probs[k] - top);
    for (uint32_t k = 0; k < c; ++k) probs[k] /= sum;
  } else {
    for (uint32_t k = 0; k < c; ++k) probs[k] /= float(roots_.size());
  }
}

TreeEngine::TreeEngine(std::shared_ptr<const TreeEnsemble> trees, const FeatureSpec& spec,
                       std::vector<ModelInput> inputs)
    : trees_(std::move(trees)), inputs_(std::move(inputs)) {
  std::size_t width = 0;
  for (const ModelInput in : inputs_) width += input_width(spec, in);
  if (width != trees_->features()) {
    throw std::runtime_error("the trees read " + std::to_string(trees_->features()) +
                             " features, the model's inputs make " + std::to_string(width));
  }
  x_.resize(width);
}

void TreeEngine::infer(const FeatureRows& rows, uint32_t count, float* scores) {
  for (uint32_t r = 0; r < count; ++r) {
    feature_vector(rows, r, inputs_, x_.data());
    trees_->predict(x_.data(), scores + std::size_t{r} * trees_->classes());
  }
}

}  // namespace etcpipe
