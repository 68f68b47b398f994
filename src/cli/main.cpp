// etcpipe: a thin command line over the pipeline libraries.
#include <algorithm>

#include "cli/commands.hpp"
#include "export/outputs.hpp"

namespace etcpipe::cli {
namespace {
std::string g_command_line;
}  // namespace

void set_command_line(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) g_command_line += (i ? " " : "") + hide_passwords(argv[i]);
}
const std::string& command_line() {
  return g_command_line;
}

}  // namespace etcpipe::cli

int main(int argc, char** argv) {
  etcpipe::cli::set_command_line(argc, argv);
  CLI::App app{"etcpipe: real-time encrypted-traffic classification engine"};
  app.set_version_flag("--version", ETCPIPE_VERSION);
  app.require_subcommand(1);
  app.footer("Run 'etcpipe COMMAND --help' for the options of a command.");
  const auto run_flows = etcpipe::cli::add_flows_command(app);
  const auto run_classify = etcpipe::cli::add_classify_command(app);
  const auto run_extract = etcpipe::cli::add_extract_command(app);
  const auto run_gen = etcpipe::cli::add_gen_command(app);
  const auto run_bench = etcpipe::cli::add_bench_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints the message (or the help); its exit codes are its own, ours say 2.
    return app.exit(e) == 0 ? 0 : 2;
  }
  // Parsed: the passwords in URIs are no longer needed in argv, where ps shows them.
  for (int i = 1; i < argc; ++i) {
    for (const auto& [begin, end] : etcpipe::password_spans(argv[i])) {
      std::fill(argv[i] + begin, argv[i] + end, 'x');
    }
  }
  if (app.got_subcommand("flows")) return run_flows();
  if (app.got_subcommand("classify")) return run_classify();
  if (app.got_subcommand("extract")) return run_extract();
  if (app.got_subcommand("gen")) return run_gen();
  if (app.got_subcommand("bench")) return run_bench();
  return 2;
}
