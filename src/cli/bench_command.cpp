// etcpipe bench: generated traffic, from memory, through dispatch, flow management and
// selection (and, with --model, feature extraction and inference); one JSON line of
// results. The options fill the session's BenchConfig; run_bench runs it.
#include <iostream>

#include "cli/commands.hpp"
#include "cli/generator_options.hpp"
#include "cli/inference_options.hpp"
#include "cli/pipeline_options.hpp"
#include "session/generated_traffic.hpp"

namespace etcpipe::cli {
namespace {

struct BenchOptions {
  BenchConfig run;
  double duration = 0;
  bool json = false;
  ClassificationConfig inference;  // with --model
};

int run(const BenchOptions& o, const CLI::App* cmd) {
  try {
    BenchConfig c = o.run;
    c.traffic = checked_generator(c.traffic, o.duration);
    if (cmd->count("--model") != 0) c.classification = o.inference;
    const BenchResult r = run_bench(c, noter(false));
    std::cout << (o.json ? r.figures.dump() : r.figures.dump(2)) << '\n';
    return r.balanced ? 0 : 3;
  } catch (const std::exception& e) {
    std::cerr << "etcpipe: " << e.what() << '\n';
    return 2;
  }
}

}  // namespace

Runner add_bench_command(CLI::App& app) {
  auto opts = std::make_shared<BenchOptions>();
  opts->run.traffic.packets = 10'000'000;
  opts->run.traffic.rate_pps = 10e6;
  CLI::App* cmd = app.add_subcommand(
      "bench", "Measure dispatch + flow management + selection on generated traffic in memory");
  cmd->footer(
      "The generator's packets are made first and held in memory (each kept to --snaplen\n"
      "bytes, its wire length unchanged). An untimed warm-up opens every active flow; the\n"
      "timed part is --packets packets drawn from the active flows, with births at\n"
      "--new-flows-per-sec of packet time (--rate).\n"
      "With --model, each flow's first N packets are extracted in the workers and\n"
      "classified (nothing is dropped: the run goes at the pace of its slowest stage), and\n"
      "the results add classified_flows_per_sec (flows classified / wall seconds of the\n"
      "whole run), the batch size and threads used, and verdict latency percentiles.\n"
      "Examples (the first is one of the flow-offload study's scenarios):\n"
      "  etcpipe bench --flows 1000000 --new-flows-per-sec 100000 --packet-size 64 "
      "--packets 10000000 --workers 1 --json\n"
      "  etcpipe bench --model models/default --flows 20000 --new-flows-per-sec 20000 "
      "--packet-size 600 --packets 2000000 --json");
  cmd->add_option("--workers", opts->run.workers, "Flow-tracking workers")
      ->capture_default_str()
      ->check(CLI::Range(1u, 256u));
  cmd->add_option("--max-flows", opts->run.max_flows,
                  "Flow table capacity in all (default: 1.25 x --flows, at least 1024)");
  cmd->add_option("--snaplen", opts->run.snaplen, "Bytes kept of each generated packet")
      ->capture_default_str()
      ->check(CLI::Range(64u, 65535u));
  cmd->add_flag("--json", opts->json, "Print one JSON line instead of text");
  add_generator_options(*cmd, opts->run.traffic, opts->duration);
  add_inference_options(cmd, opts->inference);
  return [opts, cmd] { return run(*opts, cmd); };
}

}  // namespace etcpipe::cli
