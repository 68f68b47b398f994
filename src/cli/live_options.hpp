// The live capture options of the commands that read packets (flows, classify, extract):
// -i and the capture method, into the run's LiveConfig.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "session/inputs.hpp"

namespace etcpipe::cli {

// What the --help of a command with live capture says about it.
extern const std::string kLiveHelp;

// Registers -i and the live options on `cmd`, exclusive with `read` (the command's -r).
void add_live_options(CLI::App* cmd, LiveConfig& o, CLI::Option* read);

}  // namespace etcpipe::cli
