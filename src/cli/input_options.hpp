// The input options of the commands that read packets (flows, classify, extract): -r, or -i
// and the capture method, and the BPF expression, into the run's InputConfig.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "session/inputs.hpp"

namespace etcpipe::cli {

// What the --help of a command with live capture says about it.
extern const std::string kLiveHelp;

// Registers -r, -i and the live options (exclusive with -r) on `cmd`, and the BPF expression
// (its words joined), which `filter_help` describes.
void add_input_options(CLI::App* cmd, InputConfig& in, const std::string& filter_help);

}  // namespace etcpipe::cli
