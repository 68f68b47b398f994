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

  // The first row's array of `in`; stats are not in a RowsView (null).
  static void* data(const RowsView& rows, const float* stats, ModelInput in) {
    switch (in) {
      case ModelInput::Matrix: return rows.matrix;
      case ModelInput::Sizes: return rows.sizes;
      case ModelInput::Payloads: return rows.payloads;
      case ModelInput::Iats: return rows.iats;
      case ModelInput::Flags: return rows.flags;
      case ModelInput::Stats: return const_cast<float*>(stats);
    }
    throw std::logic_error("unknown model input");
  }

  // The inputs of `count` rows as tensors over the rows' memory, which is on `where` (copied
  // to the engine's device if that is another), or zeros (rows null).
  std::vector<c10::IValue> tensors(const RowsView* rows, const float* stats, uint32_t count,
                                   torch::Device where = torch::kCPU) const {
    std::vector<c10::IValue> v;
    v.reserve(inputs.size());
    for (const ModelInput in : inputs) {
      auto [type, dims] = layout(in);
      dims.insert(dims.begin(), int64_t{count});
      // from_blob needs a non-const pointer; the module only reads its inputs.
      v.emplace_back(rows != nullptr
                         ? torch::from_blob(data(*rows, stats, in), dims,
                                            torch::TensorOptions(type).device(where))
                               .to(device)
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

  void run(std::vector<c10::IValue> in, uint32_t count, float* scores) {
    torch::InferenceMode guard;
    torch::Tensor out = module.forward(std::move(in)).toTensor();
    check(out, count);
    const torch::Tensor p = torch::softmax(out.to(torch::kFloat32), 1).to(torch::kCPU).contiguous();
    std::memcpy(scores, p.data_ptr<float>(), std::size_t{count} * classes * sizeof(float));
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
    impl_->check(impl_->module.forward(impl_->tensors(nullptr, nullptr, 1)).toTensor(), 1);
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
  const RowsView v = view_of(const_cast<FeatureRows&>(rows));
  impl_->run(impl_->tensors(&v, rows.stats(0), count), count, scores);
}

void TorchEngine::infer_device(const RowsView& rows, uint32_t count, float* scores) {
  if (!impl_->device.is_cuda()) {
    throw std::runtime_error("rows in device memory need the engine on a CUDA device");
  }
  for (const ModelInput in : impl_->inputs) {
    if (in == ModelInput::Stats) {
      throw std::runtime_error("the model reads statistics, which are computed on the host");
    }
  }
  if (count == 0) return;
  impl_->run(impl_->tensors(&rows, nullptr, count, impl_->device), count, scores);
}

}  // namespace etcpipe

// The module's entry point, found by make_torch_engine() (torch_loader.cpp) with dlsym.
extern "C" etcpipe::Engine* etcpipe_torch_engine(const std::string& file,
                                                 const etcpipe::FeatureSpec& spec,
                                                 const std::vector<etcpipe::ModelInput>& inputs,
                                                 uint32_t classes, etcpipe::Device device) {
  return new etcpipe::TorchEngine(file, spec, inputs, classes, device);
}
