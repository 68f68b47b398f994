// A model directory as `etcpipe classify --model DIR` loads it (docs/MODELS.md):
//   model.json   {"format": "etcpipe-model/1", "engine": "trees" | "torchscript",
//                 "file": "...", "inputs": ["matrix" | "sizes" | "iats" | "flags" |
//                 "payloads" | "stats", ...], "name": "...",
//                 "min_confidence": P, "scope": {"min_packets": K}, ...}
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
  // Below this class probability the verdict is the catch-all class (`other`), unless
  // classify --min-confidence says otherwise.
  float min_confidence = 0;
  // The flows the model was made for: a row with fewer selected packets gets no class (its
  // flow is out of scope). At most spec.packets.
  struct Scope {
    uint32_t min_packets = 0;
  } scope;

  // Throws std::runtime_error naming the file and what is wrong: a missing file, an
  // unknown engine or input, a spec the extractors cannot produce, an input the spec does
  // not make, a min_confidence or scope out of range.
  static Model load(const std::string& dir);
  // A new engine for one thread, on `device`. Throws std::runtime_error if this build has
  // no such engine or it cannot run there.
  std::unique_ptr<Engine> make_engine(Device device = Device::Cpu) const;
};

// Whether this build has the libtorch engine.
bool have_torchscript();

}  // namespace etcpipe
