// How a run is stopped from outside: SIGINT/SIGTERM set process-wide flags that the runs
// read (InputConfig::stop, FlowRunConfig::give_up).
#pragma once

#include <atomic>

namespace etcpipe {

// The first SIGINT/SIGTERM sets stop_flag(): reading stops, the run ends every flow and
// flushes its outputs. A second one sets give_up_flag() (waits for the outputs give up) and
// ends the process 3 s later if the run is not over by then.
void install_stop_handlers();
const std::atomic<bool>& stop_flag();
const std::atomic<bool>& give_up_flag();
// The exit status of a run a stop signal interrupted: 128 + the signal (SIGINT, SIGTERM),
// as shells report.
int interrupted_status();

}  // namespace etcpipe
