// A model directory as `etcpipe classify --model DIR` loads it (docs/MODELS.md):
//   model.json   {"format": "etcpipe-model/1", "engine": "trees" | "torchscript",
//                 "file": "...", "inputs": ["matrix" | "sizes" | "iats" | "flags" |
//                 "payloads" | "stats", ...], "name": "...", ...}
//   labels.json  {"classes": ["...", ...], "other": "..."}
//   spec.json    the FeatureSpec the model was trained with
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "features/spec.hpp"
#include "infer/engine.hpp"

namespace etcpipe {

class TreeEnsemble;

enum class EngineKind : uint8_t { Trees, TorchScript };

struct Model {
  std::string dir;
  std::string name;
  EngineKind engine = EngineKind::Trees;
  std::string file;  // the model file, a path
  std::vector<ModelInput> inputs;
  std::vector<std::string> classes;
  int other = -1;  // index of the catch-all class, -1 if none
  FeatureSpec spec;
  std::shared_ptr<const TreeEnsemble> trees;  // engine trees: loaded once, shared by threads

  // Throws std::runtime_error naming the file and what is wrong: a missing file, an
  // unknown engine or input, a spec the extractors cannot produce, an input the spec does
  // not make.
  static Model load(const std::string& dir);
  // A new engine for one thread, on `device`. Throws std::runtime_error if this build has
  // no such engine or it cannot run there.
  std::unique_ptr<Engine> make_engine(Device device = Device::Cpu) const;
};

// Whether this build has the libtorch engine.
bool have_torchscript();

}  // namespace etcpipe
