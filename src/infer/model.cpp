#include "infer/model.hpp"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "infer/tree_engine.hpp"
#ifdef ETCPIPE_HAVE_TORCH
#include "infer/torch_engine.hpp"
#endif

namespace etcpipe {
namespace {

constexpr std::string_view kInputNames[] = {"matrix", "sizes",    "iats",
                                            "flags",  "payloads", "stats"};

nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path.string() + ": cannot open");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path.string() + ": not JSON: " + e.what());
  }
}

}  // namespace

std::string_view model_input_name(ModelInput in) {
  return kInputNames[std::size_t(in)];
}

ModelInput parse_model_input(std::string_view s) {
  for (std::size_t i = 0; i < std::size(kInputNames); ++i) {
    if (kInputNames[i] == s) return ModelInput(i);
  }
  throw std::invalid_argument("unknown model input '" + std::string(s) +
                              "' (matrix, sizes, iats, flags, payloads or stats)");
}

bool spec_produces(const FeatureSpec& spec, ModelInput in) {
  switch (in) {
    case ModelInput::Matrix: return spec.matrix;
    case ModelInput::Stats: return spec.statistics;
    default: return spec.sequences;
  }
}

std::size_t input_width(const FeatureSpec& spec, ModelInput in) {
  switch (in) {
    case ModelInput::Matrix: return std::size_t{spec.packets} * spec.bytes;
    case ModelInput::Stats: return kStatCount;
    default: return spec.packets;
  }
}

void feature_vector(const FeatureRows& rows, uint32_t r, const std::vector<ModelInput>& inputs,
                    float* out) {
  const uint32_t n = rows.n();
  for (const ModelInput in : inputs) {
    switch (in) {
      case ModelInput::Matrix: out = std::copy_n(rows.matrix(r), rows.row_bytes(), out); break;
      case ModelInput::Sizes: out = std::copy_n(rows.sizes(r), n, out); break;
      case ModelInput::Iats: out = std::copy_n(rows.iats(r), n, out); break;
      case ModelInput::Flags: out = std::copy_n(rows.flags(r), n, out); break;
      case ModelInput::Payloads: out = std::copy_n(rows.payloads(r), n, out); break;
      case ModelInput::Stats: out = std::copy_n(rows.stats(r), kStatCount, out); break;
    }
  }
}

bool have_torchscript() {
#ifdef ETCPIPE_HAVE_TORCH
  return true;
#else
  return false;
#endif
}

Model Model::load(const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path root(dir);
  if (!fs::is_directory(root)) throw std::runtime_error(dir + ": not a model directory");
  Model m;
  m.dir = dir;
  const fs::path model_json = root / "model.json";
  const nlohmann::json j = read_json(model_json);
  uint64_t min_packets = m.scope.min_packets;  // checked against the spec's N below
  auto bad = [&](const fs::path& f, const std::string& what) {
    return std::runtime_error(f.string() + ": " + what);
  };
  try {
    if (j.value("format", "") != "etcpipe-model/1") {
      throw bad(model_json, "format is not etcpipe-model/1");
    }
    m.name = j.value("name", root.filename().string());
    const std::string engine = j.at("engine");
    if (engine == "trees") {
      m.engine = EngineKind::Trees;
    } else if (engine == "torchscript") {
      m.engine = EngineKind::TorchScript;
    } else {
      throw bad(model_json, "engine must be trees or torchscript, not '" + engine + "'");
    }
    m.file = (root / j.at("file").get<std::string>()).string();
    for (const auto& in : j.at("inputs"))
      m.inputs.push_back(parse_model_input(in.get<std::string>()));
    if (m.inputs.empty()) throw bad(model_json, "no inputs");
    if (const auto c = j.find("min_confidence"); c != j.end()) {
      if (!c->is_number() || !(c->get<double>() >= 0 && c->get<double>() <= 1)) {
        throw bad(model_json, "min_confidence must be a number from 0 to 1, not " + c->dump());
      }
      m.min_confidence = c->get<float>();
    }
    if (const auto s = j.find("scope"); s != j.end()) {
      if (!s->is_object()) throw bad(model_json, "scope must be an object, not " + s->dump());
      if (const auto k = s->find("min_packets"); k != s->end()) {
        if (!k->is_number_unsigned()) {
          throw bad(model_json,
                    "scope.min_packets must be a whole number of packets, not " + k->dump());
        }
        min_packets = k->get<uint64_t>();
      }
    }
  } catch (const nlohmann::json::exception& e) {
    throw bad(model_json, e.what());
  } catch (const std::invalid_argument& e) {
    throw bad(model_json, e.what());
  }

  const fs::path labels_json = root / "labels.json";
  const nlohmann::json l = read_json(labels_json);
  try {
    m.classes = l.at("classes").get<std::vector<std::string>>();
    if (m.classes.empty()) throw bad(labels_json, "no classes");
    const std::string other = l.value("other", "");
    for (std::size_t i = 0; i < m.classes.size(); ++i) {
      if (m.classes[i] == other) m.other = int(i);
    }
    if (!other.empty() && m.other < 0) throw bad(labels_json, "'other' is not one of the classes");
  } catch (const nlohmann::json::exception& e) {
    throw bad(labels_json, e.what());
  }

  const fs::path spec_json = root / "spec.json";
  try {
    m.spec = FeatureSpec::from_json(read_json(spec_json));
    m.spec.validate();
  } catch (const std::invalid_argument& e) {
    throw bad(spec_json, std::string("a feature spec etcpipe cannot produce: ") + e.what());
  } catch (const nlohmann::json::exception& e) {
    throw bad(spec_json, std::string("a feature spec etcpipe cannot produce: ") + e.what());
  }
  if (min_packets > m.spec.packets) {
    throw bad(model_json, "scope.min_packets " + std::to_string(min_packets) +
                              " is more than the " + std::to_string(m.spec.packets) +
                              " packets of a row (spec.json): every flow would be out of scope");
  }
  m.scope.min_packets = uint32_t(min_packets);
  for (const ModelInput in : m.inputs) {
    if (!spec_produces(m.spec, in)) {
      throw bad(model_json, "the model reads '" + std::string(model_input_name(in)) +
                                "', which its spec.json turns off");
    }
  }
  if (!fs::is_regular_file(m.file)) throw bad(m.file, "model file missing");
  if (m.engine == EngineKind::Trees) {
    auto trees = std::make_shared<TreeEnsemble>(TreeEnsemble::load(m.file));
    if (trees->classes() != m.classes.size()) {
      throw bad(m.file, "has " + std::to_string(trees->classes()) + " classes, labels.json " +
                            std::to_string(m.classes.size()));
    }
    m.trees = std::move(trees);
    m.make_engine();  // checks the number of features against the inputs
  } else if (!have_torchscript()) {
    throw bad(model_json, "a TorchScript model, and this etcpipe was built without libtorch");
  }
  return m;
}

std::unique_ptr<Engine> Model::make_engine(Device device) const {
  if (engine == EngineKind::Trees) {
    if (device != Device::Cpu) {
      throw std::runtime_error("--device cuda: " + dir +
                               " is a tree ensemble, and the tree engine runs on the CPU only");
    }
    return std::make_unique<TreeEngine>(trees, spec, inputs);
  }
#ifdef ETCPIPE_HAVE_TORCH
  return make_torch_engine(file, spec, inputs, uint32_t(classes.size()), device);
#else
  throw std::runtime_error("this etcpipe was built without libtorch");
#endif
}

}  // namespace etcpipe
