#include "infer/torch_engine.hpp"

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/script.h>

#include <cstring>
#include <stdexcept>

namespace etcpipe {

struct TorchEngine::Impl {
  torch::jit::Module module;
  std::vector<ModelInput> inputs;
  uint32_t classes;
  uint32_t n, l;
  torch::Device device = torch::kCPU;

  // An input's dtype and its shape after the batch dimension.
  std::pair<torch::ScalarType, std::vector<int64_t>> layout(ModelInput in) const {
    const int64_t nn = n;
    switch (in) {
      case ModelInput::Matrix: return {torch::kUInt8, {nn, int64_t{l}}};
      case ModelInput::Sizes:
      case ModelInput::Payloads: return {torch::kInt32, {nn}};
      case ModelInput::Iats: return {torch::kFloat32, {nn}};
      case ModelInput::Flags: return {torch::kUInt8, {nn}};
      case ModelInput::Stats: return {torch::kFloat32, {int64_t{kStatCount}}};
    }
    throw std::logic_error("unknown model input");
  }

  static void* data(FeatureRows& rows, ModelInput in) {
    switch (in) {
      case ModelInput::Matrix: return rows.matrix(0);
      case ModelInput::Sizes: return rows.sizes(0);
      case ModelInput::Payloads: return rows.payloads(0);
      case ModelInput::Iats: return rows.iats(0);
      case ModelInput::Flags: return rows.flags(0);
      case ModelInput::Stats: return rows.stats(0);
    }
    throw std::logic_error("unknown model input");
  }

  // The inputs of `count` rows as tensors over the rows' memory (copied to the device if
  // it is not the CPU), or zeros (rows null).
  std::vector<c10::IValue> tensors(const FeatureRows* rows, uint32_t count) const {
    std::vector<c10::IValue> v;
    v.reserve(inputs.size());
    for (const ModelInput in : inputs) {
      auto [type, dims] = layout(in);
      dims.insert(dims.begin(), int64_t{count});
      // from_blob needs a non-const pointer; the module only reads its inputs.
      v.emplace_back(
          rows != nullptr
              ? torch::from_blob(data(const_cast<FeatureRows&>(*rows), in), dims, type).to(device)
              : torch::zeros(dims, torch::TensorOptions(type).device(device)));
    }
    return v;
  }

  void check(const torch::Tensor& out, uint32_t count) const {
    if (out.dim() != 2 || out.size(0) != count || out.size(1) != classes) {
      throw std::runtime_error("the model returned a tensor of shape " + c10::str(out.sizes()) +
                               ", expected [" + std::to_string(count) + ", " +
                               std::to_string(classes) + "]");
    }
  }

  torch::Tensor run(const FeatureRows& rows, uint32_t count) {
    torch::InferenceMode guard;
    torch::Tensor out = module.forward(tensors(&rows, count)).toTensor();
    check(out, count);
    return torch::softmax(out.to(torch::kFloat32), 1).to(torch::kCPU).contiguous();
  }
};

TorchEngine::TorchEngine(const std::string& file, const FeatureSpec& spec,
                         std::vector<ModelInput> inputs, uint32_t classes, Device device)
    : impl_(std::make_unique<Impl>()) {
  // One core per inference thread: the balancer decides how many threads there are.
  at::set_num_threads(1);
  if (device == Device::Cuda) {
    if (!torch::cuda::is_available()) {
      throw std::runtime_error(
          "--device cuda: libtorch sees no CUDA device (Debian's libtorch-dev is built without "
          "CUDA; build etcpipe against a CUDA libtorch, on a machine with a GPU and its driver)");
    }
    impl_->device = torch::kCUDA;
  }
  try {
    impl_->module = torch::jit::load(file, impl_->device);
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
    impl_->check(impl_->module.forward(impl_->tensors(nullptr, 1)).toTensor(), 1);
  } catch (const c10::Error& e) {
    throw std::runtime_error(
        file + ": the model does not take this spec's inputs: " + e.what_without_backtrace());
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
                                                 uint32_t classes, etcpipe::Device device) {
  return new etcpipe::TorchEngine(file, spec, inputs, classes, device);
}
