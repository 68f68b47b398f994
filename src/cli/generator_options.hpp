// Command-line options of the traffic generator, shared by `gen` and `bench`.
#pragma once

#include <CLI/CLI.hpp>

#include "capture/generator.hpp"

namespace etcpipe::cli {

// Registers the traffic options into `cfg`, and --duration (seconds of packet time, which
// overrides --packets when set: checked_generator) into `duration`.
void add_generator_options(CLI::App& cmd, GeneratorConfig& cfg, double& duration);

}  // namespace etcpipe::cli
