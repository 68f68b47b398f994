#include "infer/torch_engine.hpp"

#include <ATen/Parallel.h>
#include <torch/script.h>

#include <cstring>
#include <stdexcept>

namespace etcpipe {

struct TorchEngine::Impl {
  torch::jit::Module module;
  std::vector<ModelInput> inputs;
  uint32_t classes;
  uint32_t n, l;

  std::vector<c10::IValue> tensors(const FeatureRows& rows, uint32_t count) const {
    std::vector<c10::IValue> v;
    v.reserve(inputs.size());
    const int64_t b = count, nn = n;
    // from_blob needs a non-const pointer; the module only reads its inputs.
    auto& w = const_cast<FeatureRows&>(rows);
    for (const ModelInput in : inputs) {
      switch (in) {
        case ModelInput::Matrix:
          v.emplace_back(torch::from_blob(w.matrix(0), {b, nn, int64_t{l}}, torch::kUInt8));
          break;
        case ModelInput::Sizes:
          v.emplace_back(torch::from_blob(w.sizes(0), {b, nn}, torch::kInt32));
          break;
        case ModelInput::Iats:
          v.emplace_back(torch::from_blob(w.iats(0), {b, nn}, torch::kFloat32));
          break;
        case ModelInput::Flags:
          v.emplace_back(torch::from_blob(w.flags(0), {b, nn}, torch::kUInt8));
          break;
        case ModelInput::Payloads:
          v.emplace_back(torch::from_blob(w.payloads(0), {b, nn}, torch::kInt32));
          break;
        case ModelInput::Stats:
          v.emplace_back(
              torch::from_blob(w.stats(0), {b, int64_t{kStatCount}}, torch::kFloat32));
          break;
      }
    }
    return v;
  }

  void check(const torch::Tensor& out, uint32_t count) const {
    if (out.dim() != 2 || out.size(0) != count || out.size(1) != classes) {
      throw std::runtime_error("the model returned a tensor of shape " +
                               c10::str(out.sizes()) + ", expected [" + std::to_string(count) +
                               ", " + std::to_string(classes) + "]");
    }
  }

  torch::Tensor run(const FeatureRows& rows, uint32_t count) {
    torch::InferenceMode guard;
    torch::Tensor out = module.forward(tensors(rows, count)).toTensor();
    check(out, count);
    return torch::softmax(out.to(torch::kFloat32), 1).contiguous();
  }
};

TorchEngine::TorchEngine(const std::string& file, const FeatureSpec& spec,
                         std::vector<ModelInput> inputs, uint32_t classes)
    : impl_(std::make_unique<Impl>()) {
  // One core per inference thread: the balancer decides how many threads there are.
  at::set_num_threads(1);
  try {
    impl_->module = torch::jit::load(file);
  } catch (const c10::Error& e) {
    throw std::runtime_error(file + ": not a TorchScript module: " + e.what_without_backtrace());
  }
  impl_->module.eval();
  impl_->inputs = std::move(inputs);
  impl_->classes = classes;
  impl_->n = spec.packets;
  impl_->l = spec.matrix ? spec.bytes : 0;
  try {
    torch::InferenceMode guard;
    std::vector<c10::IValue> zero;
    for (const ModelInput in : impl_->inputs) {
      const int64_t n = spec.packets;
      switch (in) {
        case ModelInput::Matrix: zero.emplace_back(torch::zeros({1, n, int64_t{impl_->l}}, torch::kUInt8)); break;
        case ModelInput::Sizes:
        case ModelInput::Payloads: zero.emplace_back(torch::zeros({1, n}, torch::kInt32)); break;
        case ModelInput::Iats: zero.emplace_back(torch::zeros({1, n}, torch::kFloat32)); break;
        case ModelInput::Flags: zero.emplace_back(torch::zeros({1, n}, torch::kUInt8)); break;
        case ModelInput::Stats: zero.emplace_back(torch::zeros({1, int64_t{kStatCount}}, torch::kFloat32)); break;
      }
    }
    impl_->check(impl_->module.forward(zero).toTensor(), 1);
  } catch (const c10::Error& e) {
    throw std::runtime_error(file + ": the model does not take this spec's inputs: " +
                             e.what_without_backtrace());
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(file + ": " + e.what());
  }
}

TorchEngine::~TorchEngine() = default;

void TorchEngine::infer(const FeatureRows& rows, uint32_t count, float* scores) {
  if (count == 0) return;
  const torch::Tensor p = impl_->run(rows, count);
  std::memcpy(scores, p.data_ptr<float>(), std::size_t{count} * impl_->classes * sizeof(float));
}

}  // namespace etcpipe

// The module's entry point, found by make_torch_engine() (torch_loader.cpp) with dlsym.
extern "C" etcpipe::Engine* etcpipe_torch_engine(const std::string& file,
                                                  const etcpipe::FeatureSpec& spec,
                                                  const std::vector<etcpipe::ModelInput>& inputs,
                                                  uint32_t classes) {
  return new etcpipe::TorchEngine(file, spec, inputs, classes);
}
