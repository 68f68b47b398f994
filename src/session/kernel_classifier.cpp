#include "session/kernel_classifier.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <stdexcept>

#include "common/time.hpp"

namespace etcpipe {

namespace {
uint32_t kernel_action(FlowAction a) {
  return a == FlowAction::Drop     ? ETCPIPE_ACTION_DROP
         : a == FlowAction::Bypass ? ETCPIPE_ACTION_BYPASS
                                   : ETCPIPE_ACTION_PASS;
}

std::vector<std::string> read_classes(const std::string& dir) {
  const std::string path = dir + "/labels.json";
  std::ifstream in(path);
  try {
    return nlohmann::json::parse(in).at("classes").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}
}  // namespace

std::shared_ptr<const KernelSetup> KernelSetup::load(const std::string& model_dir,
                                                     float min_confidence, EnforcePolicy policy) {
  auto s = std::make_shared<KernelSetup>(KernelSetup{KernelModel::load(model_dir + "/kernel.json"),
                                                     read_classes(model_dir), std::move(policy),
                                                     min_confidence});
  if (s->classes.size() != s->model.classes()) {
    throw std::runtime_error(model_dir + ": kernel.json and labels.json disagree on the classes");
  }
  if (s->policy.rules().size() > ETCPIPE_KERNEL_MAX_RULES) {
    throw std::runtime_error(fmt::format("--in-kernel: the kernel takes at most {} --enforce rules",
                                         ETCPIPE_KERNEL_MAX_RULES));
  }
  return s;
}

void KernelSetup::install(XdpProgram& xdp) const {
  etcpipe_kernel_config c = model.config(model.score_for(min_confidence));
  c.rules = uint32_t(policy.rules().size());
  for (uint32_t i = 0; i < c.rules; ++i) {
    const EnforceRule& r = policy.rules()[i];
    const auto it = std::find(classes.begin(), classes.end(), r.label);
    // A label only the user-space model has (--cascade-model) never matches in the kernel.
    c.rule[i].cls = r.label == "*"        ? ETCPIPE_KERNEL_ANY
                    : it != classes.end() ? uint32_t(it - classes.begin())
                                          : ETCPIPE_KERNEL_MAX_CLASSES;
    c.rule[i].min_score = model.score_for(r.min_confidence);
    c.rule[i].action = kernel_action(r.action);
  }
  xdp.load_kernel_model(model.nodes(), model.leaves(), c);
}

KernelClassifier::KernelClassifier(std::shared_ptr<const KernelSetup> setup,
                                   std::shared_ptr<XdpProgram> xdp, FlowSink& out)
    : setup_(std::move(setup)), xdp_(std::move(xdp)), out_(out) {
  stats_.per_label.resize(setup_->classes.size());
}

void KernelClassifier::write(std::span<const FlowRecord> records) {
  batch_.assign(records.begin(), records.end());
  const uint64_t mono_to_real = realtime_ns() - monotonic_ns();
  KernelClassifierStats add;
  add.per_label.resize(setup_->classes.size());
  for (FlowRecord& r : batch_) {
    // The kernel keeps TCP and UDP flows it sees whole (no tunnel).
    if (r.tunnel != TunnelType::None || (r.proto != 6 && r.proto != 17)) {
      ++add.undecided;
      continue;
    }
    etcpipe_flow_key key;
    etcpipe_kernel_flow kf{};
    const bool client_is_lo = record_map_key(r, key);
    if (!xdp_->take_kernel_flow(key, kf) || kf.state == ETCPIPE_KERNEL_COLLECTING) {
      ++add.undecided;
      continue;
    }
    if (kf.state == ETCPIPE_KERNEL_TO_USER) {
      ++add.below;
      continue;
    }
    if (setup_->model.predict(kf.value).encoded() != kf.verdict) ++add.differ;
    const uint32_t cls = (kf.verdict & 0xFF) - 1;
    if (cls >= setup_->classes.size()) continue;  // not written by this program's model
    r.label = setup_->classes[cls].c_str();
    r.confidence = float(kf.verdict >> 16) / 65535.0f;
    r.decided_in = DecidedIn::Kernel;
    r.action = FlowAction::None;
    const uint64_t decided = kf.last_ns + mono_to_real;  // its K-th packet, in real time
    r.verdict_latency_ms = float(double(decided - std::min(decided, r.first_ns)) / 1e6);
    etcpipe_flow_state st{};
    if (xdp_->take_verdict(key, st)) {
      merge_xdp_counts(r, st, client_is_lo, mono_to_real);
      const uint32_t rule = (st.kernel_verdict >> 8) & 0xFF;
      if (rule != 0 && rule <= setup_->policy.rules().size())
        r.action = setup_->policy.rules()[rule - 1].action;
    }
    ++add.kernel;
    ++add.per_label[cls];
  }
  {
    std::lock_guard lock(mu_);
    stats_.kernel += add.kernel;
    stats_.below += add.below;
    stats_.undecided += add.undecided;
    stats_.differ += add.differ;
    for (std::size_t k = 0; k < add.per_label.size(); ++k) stats_.per_label[k] += add.per_label[k];
  }
  out_.write(batch_);
}

KernelClassifierStats KernelClassifier::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

std::string KernelClassifier::summary() const {
  const KernelClassifierStats s = stats();
  return fmt::format(
      "in the kernel (K={} packets, {} trees): {} flows decided there, {} left to user space "
      "below confidence {:g}, {} with no kernel verdict (fewer than K packets, not TCP/UDP, not "
      "seen from their start){}\n",
      setup_->model.packets(), setup_->model.trees(), s.kernel, s.below, setup_->min_confidence,
      s.undecided,
      s.differ == 0 ? ""
                    : fmt::format("; {} kernel verdicts DIFFER from user space's on the same "
                                  "values (a defect: please report it)",
                                  s.differ));
}

nlohmann::json KernelClassifier::summary_json() const {
  const KernelClassifierStats s = stats();
  const etcpipe_xdp_stats x = xdp_->stats();
  nlohmann::json per_label = nlohmann::json::object();
  for (std::size_t k = 0; k < setup_->classes.size(); ++k) {
    if (s.per_label[k] != 0) per_label[setup_->classes[k]] = s.per_label[k];
  }
  return {{"packets", setup_->model.packets()},
          {"trees", setup_->model.trees()},
          {"min_confidence", setup_->min_confidence},
          {"flows_kernel", s.kernel},
          {"flows_below_confidence", s.below},
          {"flows_undecided", s.undecided},
          {"verdicts_differing_from_user_space", s.differ},
          {"per_label", per_label},
          {"xdp_decided", x.kernel_decided},
          {"xdp_to_user", x.kernel_to_user},
          {"xdp_unkept", x.kernel_unkept},
          {"verified_instructions", xdp_->verified_instructions()}};
}

}  // namespace etcpipe
