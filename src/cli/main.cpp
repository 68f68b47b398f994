// etcpipe: a thin command line over the pipeline libraries.
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>

#include "cli/commands.hpp"
#include "export/outputs.hpp"

namespace etcpipe::cli {
namespace {
// The one piece of global state: a signal handler can reach nothing else.
std::atomic<bool> g_stop{false};
std::atomic<bool> g_give_up{false};
std::atomic<int> g_signal{0};
std::string g_command_line;
// After a second signal, what is not flushed by then is given up: the process ends.
constexpr unsigned kGraceSeconds = 3;
// The first SIGINT/SIGTERM stops reading; the run ends every flow and flushes the outputs.
// A second one ends it promptly: waits for outputs give up (records dropped, counted), and
// if the run is still not over kGraceSeconds later (an output blocked in a write) the
// process exits at once, with the status of the signal.
extern "C" void on_signal(int sig) {
  g_signal.store(sig);
  if (g_stop.exchange(true)) {
    g_give_up.store(true);
    alarm(kGraceSeconds);
  }
}
extern "C" void on_alarm(int) {
  _exit(128 + g_signal.load());
}
}  // namespace

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;  // a write the signal interrupts goes on, rather than fail
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  struct sigaction alarm_sa {};
  alarm_sa.sa_handler = on_alarm;
  sigemptyset(&alarm_sa.sa_mask);
  sigaction(SIGALRM, &alarm_sa, nullptr);
}
const std::atomic<bool>& stop_flag() {
  return g_stop;
}
const std::atomic<bool>& give_up_flag() {
  return g_give_up;
}
int interrupted_status() {
  const int sig = g_signal.load();
  return 128 + (sig != 0 ? sig : SIGINT);
}

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
