// Loads the TorchScript engine module (libetcpipe_torch.so) on first use.
#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <stdexcept>

#include "features/spec.hpp"
#include "infer/torch_engine.hpp"

namespace etcpipe {
namespace {

using Factory = Engine* (*)(const std::string&, const FeatureSpec&, const std::vector<ModelInput>&,
                            uint32_t, Device);

// Where the module may be: the environment's choice, the build tree's, beside the binary.
std::vector<std::string> candidates() {
  std::vector<std::string> c;
  if (const char* env = std::getenv("ETCPIPE_TORCH_MODULE")) c.emplace_back(env);
  c.emplace_back(ETCPIPE_TORCH_MODULE_PATH);
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    c.push_back((exe.parent_path() / "libetcpipe_torch.so").string());
    c.push_back((exe.parent_path().parent_path() / "lib" / "libetcpipe_torch.so").string());
  }
  return c;
}

Factory load() {
  static std::once_flag once;
  static Factory factory = nullptr;
  static std::string error;
  std::call_once(once, [] {
    for (const std::string& path : candidates()) {
      if (!std::filesystem::exists(path)) continue;
      void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (handle == nullptr) {
        error = dlerror();
        continue;
      }
      factory = reinterpret_cast<Factory>(dlsym(handle, "etcpipe_torch_engine"));
      if (factory != nullptr) return;
      error = path + ": no etcpipe_torch_engine";
    }
    if (error.empty()) error = "libetcpipe_torch.so not found (set ETCPIPE_TORCH_MODULE)";
  });
  if (factory == nullptr) throw std::runtime_error("cannot load the TorchScript engine: " + error);
  return factory;
}

}  // namespace

std::unique_ptr<Engine> make_torch_engine(const std::string& file, const FeatureSpec& spec,
                                          const std::vector<ModelInput>& inputs, uint32_t classes,
                                          Device device) {
  return std::unique_ptr<Engine>(load()(file, spec, inputs, classes, device));
}

}  // namespace etcpipe
