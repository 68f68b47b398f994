// TorchScript models through libtorch (Debian's libtorch-dev, CPU only; or a libtorch
// built with CUDA found by CMake instead). The module's forward takes one tensor per model
// input, in the order of model.json's "inputs", shaped [B, ...] as the rows hold them
// (matrix uint8 [B, N, L]; sizes, payloads int32 [B, N]; iats float32 [B, N]; flags uint8
// [B, N]; stats float32 [B, 39]), and returns logits [B, classes]. On the CPU the tensors
// are views of the batch's rows: no copy. On a CUDA device (Device::Cuda) the module lives
// on the GPU and each input is copied there once per batch, the probabilities back; rows
// already in the GPU's memory (infer_device: the CUDA batch extractor's) are read in place.
//
// libtorch is large (its libraries take half a second to load), so this engine is a
// module of its own (libetcpipe_torch.so) that make_torch_engine() loads with dlopen the
// first time a TorchScript model is used: the other commands never load libtorch.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "infer/engine.hpp"

namespace etcpipe {

// Loads the module (ETCPIPE_TORCH_MODULE in the environment, else the one built beside
// this binary) and makes an engine; throws std::runtime_error if it cannot.
std::unique_ptr<Engine> make_torch_engine(const std::string& file, const FeatureSpec& spec,
                                          const std::vector<ModelInput>& inputs, uint32_t classes,
                                          Device device);

class TorchEngine final : public Engine {
 public:
  // Loads the module onto `device` and runs it once on a zero row to check the output's
  // shape; throws std::runtime_error with libtorch's message otherwise, or if libtorch sees
  // no CUDA device when asked for one.
  TorchEngine(const std::string& file, const FeatureSpec& spec, std::vector<ModelInput> inputs,
              uint32_t classes, Device device);
  ~TorchEngine() override;
  void infer(const FeatureRows& rows, uint32_t count, float* scores) override;
  void infer_device(const RowsView& rows, uint32_t count, float* scores) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace etcpipe
