#include "session/kernel_model.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace etcpipe {

namespace {
constexpr uint32_t kScore = 65535;  // a leaf's probability 1

uint32_t input_kind(const std::string& name) {
  if (name == "sizes") return ETCPIPE_KERNEL_SIZES;
  if (name == "iats") return ETCPIPE_KERNEL_IATS;
  if (name == "flags") return ETCPIPE_KERNEL_FLAGS;
  if (name == "payloads") return ETCPIPE_KERNEL_PAYLOADS;
  throw std::runtime_error("input " + name +
                           " is not kept in the kernel (sizes, iats, flags, payloads)");
}

// Nodes from `node` down to its deepest leaf, the leaf included.
uint32_t depth(const std::vector<int32_t>& feature, const std::vector<int32_t>& left,
               const std::vector<int32_t>& right, std::size_t node) {
  if (feature[node] < 0) return 1;
  return 1 + std::max(depth(feature, left, right, std::size_t(left[node])),
                      depth(feature, left, right, std::size_t(right[node])));
}
}  // namespace

KernelModel KernelModel::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open (train the model with --arch kforest)");
  auto bad = [&](const std::string& what) { return std::runtime_error(path + ": " + what); };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw bad(std::string("not JSON: ") + e.what());
  }
  if (j.value("format", "") != "etcpipe-kernel-trees/1") {
    throw bad("format is not etcpipe-kernel-trees/1");
  }
  KernelModel m;
  try {
    m.packets_ = j.at("packets");
    m.classes_ = j.at("classes");
    for (const auto& name : j.at("inputs")) m.inputs_.push_back(input_kind(name));
    const auto& trees = j.at("trees");
    auto limit = [&](const char* what, std::size_t n, std::size_t max) {
      if (n < 1 || n > max) {
        throw bad(std::string(what) + " " + std::to_string(n) + ": the kernel program takes 1 to " +
                  std::to_string(max) +
                  " (limits: packets 16, classes 32, trees 128, depth 24, nodes 65536, leaves " +
                  "16384)");
      }
    };
    limit("packets", m.packets_, ETCPIPE_KERNEL_MAX_PACKETS);
    limit("classes", m.classes_, ETCPIPE_KERNEL_MAX_CLASSES);
    limit("trees", trees.size(), ETCPIPE_KERNEL_MAX_TREES);
    limit("inputs", m.inputs_.size(), ETCPIPE_KERNEL_INPUTS);
    const std::size_t features = m.inputs_.size() * m.packets_;
    for (const auto& t : trees) {
      const auto feature = t.at("feature").get<std::vector<int32_t>>();
      const auto threshold = t.at("threshold").get<std::vector<int64_t>>();
      const auto left = t.at("left").get<std::vector<int32_t>>();
      const auto right = t.at("right").get<std::vector<int32_t>>();
      const auto& score = t.at("score");
      const std::size_t n = feature.size();
      const std::string name = "tree " + std::to_string(m.roots_.size());
      if (n == 0 || threshold.size() != n || left.size() != n || right.size() != n ||
          score.size() != n) {
        throw bad(name + ": arrays of unequal length");
      }
      const std::size_t base = m.nodes_.size();
      for (std::size_t i = 0; i < n; ++i) {
        // Children come after their parent (scikit-learn's order): no cycles.
        if (feature[i] >= 0 &&
            (std::size_t(feature[i]) >= features || left[i] <= int32_t(i) ||
             right[i] <= int32_t(i) || std::size_t(left[i]) >= n || std::size_t(right[i]) >= n)) {
          throw bad(name + " node " + std::to_string(i) + ": feature or child out of range");
        }
        if (threshold[i] < std::numeric_limits<int32_t>::min() ||
            threshold[i] > std::numeric_limits<int32_t>::max()) {
          throw bad(name + " node " + std::to_string(i) + ": threshold out of 32 bits");
        }
      }
      limit("depth", depth(feature, left, right, 0), ETCPIPE_KERNEL_MAX_DEPTH);
      limit("nodes", base + n, ETCPIPE_KERNEL_MAX_NODES);
      m.roots_.push_back(uint32_t(base));
      for (std::size_t i = 0; i < n; ++i) {
        etcpipe_kernel_node node{};
        if (feature[i] < 0) {
          const auto s = score[i].get<std::vector<uint32_t>>();
          if (s.size() != m.classes_) throw bad(name + ": a leaf needs one score per class");
          etcpipe_kernel_leaf leaf{};
          for (std::size_t k = 0; k < s.size(); ++k) {
            if (s[k] > kScore) throw bad(name + ": a leaf's score exceeds 65535");
            leaf.score[k] = uint16_t(s[k]);
          }
          node.feature = ETCPIPE_KERNEL_LEAF;
          node.left = node.right = uint32_t(m.leaves_.size());
          m.leaves_.push_back(leaf);
          limit("leaves", m.leaves_.size(), ETCPIPE_KERNEL_MAX_LEAVES);
        } else {
          // Feature f of the model: packet f % packets of input f / packets, at its place in
          // the kernel's value array.
          const uint32_t f = uint32_t(feature[i]);
          node.feature =
              uint16_t(m.inputs_[f / m.packets_] * ETCPIPE_KERNEL_MAX_PACKETS + f % m.packets_);
          node.threshold = int32_t(threshold[i]);
          node.left = uint32_t(base + std::size_t(left[i]));
          node.right = uint32_t(base + std::size_t(right[i]));
        }
        m.nodes_.push_back(node);
      }
    }
  } catch (const nlohmann::json::exception& e) {
    throw bad(e.what());
  }
  return m;
}

KernelModel::Verdict KernelModel::predict(const int32_t* value) const {
  uint32_t sum[ETCPIPE_KERNEL_MAX_CLASSES] = {};
  for (const uint32_t root : roots_) {
    const etcpipe_kernel_node* node = &nodes_[root];
    while (node->feature != ETCPIPE_KERNEL_LEAF) {
      node = &nodes_[value[node->feature] <= node->threshold ? node->left : node->right];
    }
    const etcpipe_kernel_leaf& leaf = leaves_[node->left];
    for (uint32_t k = 0; k < ETCPIPE_KERNEL_MAX_CLASSES; ++k) sum[k] += leaf.score[k];
  }
  Verdict v;
  for (uint32_t k = 0; k < ETCPIPE_KERNEL_MAX_CLASSES; ++k) {
    if (sum[k] > v.sum) {
      v.sum = sum[k];
      v.cls = k;
    }
  }
  v.confidence = v.sum / trees();
  return v;
}

uint32_t KernelModel::score_for(float confidence) const {
  const double s = std::ceil(double(std::clamp(confidence, 0.0f, 1.0f)) * kScore * trees());
  return uint32_t(s);
}

etcpipe_kernel_config KernelModel::config(uint32_t min_score) const {
  etcpipe_kernel_config c{};
  c.trees = trees();
  c.packets = packets_;
  c.min_score = min_score;
  for (uint32_t t = 0; t < trees(); ++t) c.root[t] = roots_[t];
  return c;
}

}  // namespace etcpipe
