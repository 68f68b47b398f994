// Command-line options of the traffic generator, shared by `gen` and `bench`.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "capture/generator.hpp"

namespace etcpipe::cli {

struct GeneratorOptions {
  GeneratorConfig cfg;
  std::vector<uint32_t> sizes = {64};
  std::string payload = "random";
  double duration = 0;  // seconds of packet time; overrides --packets when set
};

void add_generator_options(CLI::App& cmd, GeneratorOptions& o);
// The generator configuration the options describe.
GeneratorConfig generator_config(const GeneratorOptions& o);

}  // namespace etcpipe::cli
