// Subcommands of the etcpipe CLI. Each registers its options on the app and returns a
// function that runs it once the command line is parsed.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "session/stop_signals.hpp"

namespace etcpipe::cli {

using Runner = std::function<int()>;

// The exit statuses of the commands that read captures, as their --help says them.
inline const std::string kExitStatusHelp =
    "Exit status: 0 ok, 1 some input unreadable (not opened, truncated or corrupt), 2 usage\n"
    "or fatal error (an output that failed), 130/143 stopped by SIGINT/SIGTERM.";

// The command line as given, passwords in URIs hidden (for the records of a run, e.g. in
// SQLite).
void set_command_line(int argc, char** argv);
const std::string& command_line();

Runner add_flows_command(CLI::App& app);
Runner add_classify_command(CLI::App& app);
Runner add_extract_command(CLI::App& app);
Runner add_gen_command(CLI::App& app);
Runner add_bench_command(CLI::App& app);

}  // namespace etcpipe::cli
