#include "session/stop_signals.hpp"

#include <unistd.h>

#include <csignal>

namespace etcpipe {
namespace {
// The one piece of global state: a signal handler can reach nothing else.
std::atomic<bool> g_stop{false};
std::atomic<bool> g_give_up{false};
std::atomic<int> g_signal{0};
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

}  // namespace etcpipe
