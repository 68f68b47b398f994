// Subcommands of the etcpipe CLI. Each registers its options on the app and returns a
// function that runs it once the command line is parsed.
#pragma once

#include <CLI/CLI.hpp>
#include <atomic>
#include <functional>
#include <string>

namespace etcpipe::cli {

using Runner = std::function<int()>;

// Process-wide stop request set by SIGINT/SIGTERM.
void install_stop_handlers();
const std::atomic<bool>& stop_flag();

// The command line as given (for the records of a run, e.g. in SQLite).
void set_command_line(int argc, char** argv);
const std::string& command_line();

Runner add_flows_command(CLI::App& app);
Runner add_classify_command(CLI::App& app);
Runner add_extract_command(CLI::App& app);
Runner add_gen_command(CLI::App& app);
Runner add_bench_command(CLI::App& app);

}  // namespace etcpipe::cli
