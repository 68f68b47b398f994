// Inference engines: a batch of feature rows in, class probabilities per flow out. One
// virtual call per batch; each inference thread owns an engine of its own.
#pragma once
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "features/packet_row.hpp"
#include "features/rows.hpp"

namespace etcpipe {

// The arrays of a feature row a model reads (docs/MODELS.md, "Model directory").
enum class ModelInput : uint8_t { Matrix, Sizes, Iats, Flags, Payloads, Stats };
std::string_view model_input_name(ModelInput in);
ModelInput parse_model_input(std::string_view s);  // throws std::invalid_argument
// Whether `spec` makes rows that hold `in`.
bool spec_produces(const struct FeatureSpec& spec, ModelInput in);
// Values of `in` per row: N x L, N, or kStatCount.
std::size_t input_width(const FeatureSpec& spec, ModelInput in);

// The inputs of row r, concatenated in order and converted to float: the feature vector of
// the tree ensembles (the training code builds the same one from the .npy arrays).
void feature_vector(const FeatureRows& rows, uint32_t r, const std::vector<ModelInput>& inputs,
                    float* out);

// Where an engine runs. Only the TorchScript engine runs on a CUDA device, and only with a
// libtorch built with CUDA (Debian's is not).
enum class Device : uint8_t { Cpu, Cuda };

class Engine {
 public:
  virtual ~Engine() = default;
  // Probabilities of the classes for rows [0, count) of `rows`: scores[row * classes + c].
  virtual void infer(const FeatureRows& rows, uint32_t count, float* scores) = 0;
  // The same for rows in the memory of the engine's CUDA device (the CUDA batch extractor's
  // rows, padded), read where they are: no copy. Only an engine on a CUDA device whose model
  // reads no statistics (computed on the host) takes them; the others throw.
  // (Defined here: with no virtual function defined out of line, every library that derives
  // an engine, the dlopened TorchScript module too, has the class's type information.)
  virtual void infer_device(const RowsView&, uint32_t, float*) {
    throw std::runtime_error("this engine reads rows in host memory only");
  }
};

}  // namespace etcpipe
