// Subcommands of the etcpipe CLI. Each registers its options on the app and returns a
// function that runs it once the command line is parsed.
#pragma once

#include <CLI/CLI.hpp>
#include <atomic>
#include <functional>

namespace etcpipe::cli {

using Runner = std::function<int()>;

// Process-wide stop request set by SIGINT/SIGTERM.
void install_stop_handlers();
const std::atomic<bool>& stop_flag();

Runner add_flows_command(CLI::App& app);
Runner add_extract_command(CLI::App& app);
Runner add_gen_command(CLI::App& app);
Runner add_bench_command(CLI::App& app);

}  // namespace etcpipe::cli
