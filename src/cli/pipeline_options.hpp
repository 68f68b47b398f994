// Options shared by the commands that run the flow pipeline (flows, classify, extract):
// decoding, flow table, timeouts, workers and the selection rules, bound to the fields of
// the run's configuration (whose defaults they show).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iostream>
#include <new>
#include <string>

#include "pipeline/flow_pipeline.hpp"
#include "session/inputs.hpp"

namespace etcpipe::cli {

// Registers the options on `cmd`, into `cfg` and `input`'s workers. Without
// `select_packets`, the command sets N itself.
void add_pipeline_options(CLI::App* cmd, FlowPipelineConfig& cfg, InputConfig& input,
                          bool select_packets);
// What to say when the tables `cfg` asks for do not fit in memory (std::bad_alloc).
std::string out_of_memory_advice(const FlowPipelineConfig& cfg);

// A command's run: its exit status, or 2 with one line on stderr for what it threw (with
// the memory advice for std::bad_alloc).
template <class Body>
int run_guarded(const FlowPipelineConfig& cfg, Body&& body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    std::cerr << "etcpipe: " << out_of_memory_advice(cfg) << '\n';
  } catch (const std::exception& e) {
    std::cerr << "etcpipe: " << e.what() << '\n';
  }
  return 2;
}

// The exit status of a run that read packets (kExitStatusHelp): stopped by a signal before
// the end of the input, 128 + the signal, as shells report; inputs not opened, ended by a
// read error (truncated, corrupt) or left out of a directory, 1 with a line on stderr (the
// others were read, the run is not a success); accounting that does not balance, 3.
int exit_status(bool interrupted, uint64_t unreadable, bool balanced);

// Says a warning on stderr ("etcpipe: MSG"), clearing the progress line first if one is shown.
Tell warner(bool progress);
// Says a note on stderr ("etcpipe: MSG") unless `quiet`.
Tell noter(bool quiet);

// Refuses nan and inf (CLI::Range lets nan through).
CLI::Validator finite_number();

}  // namespace etcpipe::cli
