// etcpipe bench: generated traffic, from memory, through dispatch, flow management and
// selection (and, with --model, feature extraction and inference); one JSON line of
// results.
#include <sys/resource.h>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "capture/memory_source.hpp"
#include "cli/commands.hpp"
#include "cli/generator_options.hpp"
#include "cli/inference_options.hpp"
#include "pipeline/run.hpp"

namespace etcpipe::cli {
namespace {

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;  // kilobytes on Linux
}

struct BenchOptions {
  GeneratorOptions gen;
  unsigned workers = 1;
  uint32_t max_flows = 0;
  uint32_t snaplen = 128;
  bool json = false;
  ClassificationConfig inference;
};

// The figures of a run, as the JSON line says them.
nlohmann::ordered_json results(const BenchOptions& o, const GeneratorConfig& g, uint64_t timed,
                               const MemorySource& replay, const RunStats& s,
                               const Classification* classification, double wall) {
  const double secs = replay.seconds_after_mark();
  const double mpps = double(replay.packets_after_mark()) / secs / 1e6;
  nlohmann::ordered_json j;
  j["flows"] = g.flows;
  j["new_flows_per_sec"] = g.new_flows_per_sec;
  j["packet_sizes"] = g.packet_sizes;
  j["packets"] = timed;
  j["workers"] = o.workers;
  j["seconds"] = secs;
  j["mpps"] = mpps;
  j["mpps_per_worker"] = mpps / o.workers;
  j["gbps"] = double(replay.wire_bytes_after_mark()) * 8 / secs / 1e9;
  j["flows_created"] = s.flows.created;
  j["flows_active_peak"] = s.flows.peak_active;
  j["bytes_per_flow"] = FlowTable::bytes_per_flow();
  j["flow_table_mb"] = double(s.flows.resident_bytes) / (1 << 20);
  j["peak_rss_mb"] = peak_rss_mb();  // includes the replay and the generator's state
  j["replay_mb"] = double(replay.memory_bytes()) / (1 << 20);
  j["drops"] = s.dropped();
  j["selected"] = s.selected.copied;
  j["evicted"] = s.flows.ended[size_t(EndReason::Evicted)];
  if (classification) {
    const VerdictStats& v = classification->verdicts();
    const ClassifierStats c = classification->classifier_stats();
    j["model"] = classification->model().name;
    j["wall_seconds"] = wall;
    j["classified"] = v.classified;
    j["classified_flows_per_sec"] = double(v.classified) / wall;
    j["batch"] = c.batch;
    j["infer_threads"] = c.threads;
    j["infer_threads_peak"] = c.threads_peak;
    j["infer_busy_seconds"] = c.busy_seconds;
    j["deadline_batches"] = c.deadline_batches;
    j["batches"] = c.batches;
    j["verdict_latency_ms_p50"] = v.latency_percentile(50);
    j["verdict_latency_ms_p99"] = v.latency_percentile(99);
  }
  return j;
}

int run(const BenchOptions& opts, const CLI::App* cmd) {
  try {
    GeneratorConfig g = generator_config(opts.gen);
    const uint64_t timed = g.packets;
    g.packets += g.flows;  // warm-up: one packet opens each flow
    g.open_all_first = true;
    g.snaplen = opts.snaplen;
    std::cerr << "etcpipe: generating " << g.packets << " packets...\n";
    GeneratorSource gen(g);
    MemorySource replay(gen);
    replay.set_mark(g.flows);

    FlowPipelineConfig cfg;
    cfg.table.max_flows = opts.max_flows != 0
                              ? opts.max_flows
                              : uint32_t(std::max<uint64_t>(1024, g.flows + g.flows / 4));
    NullSink null_sink;
    FlowSink* sink = &null_sink;
    RunOptions ro;
    ro.workers = opts.workers;
    ro.lossless = false;  // a probe at line rate drops what it cannot keep up with
    std::optional<Classification> classification;
    if (cmd->count("--model") != 0) {
      classification.emplace(opts.inference);
      cfg.select_snaplen = std::max<uint32_t>(opts.snaplen, 64);
      classification->configure(cfg);
      sink = &classification->attach(ro, null_sink, cfg);
      ro.lossless = true;  // every flow classified: the slowest stage sets the pace
    }
    const auto start = std::chrono::steady_clock::now();
    const RunStats s = run_flows(replay, cfg, *sink, ro);
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    const nlohmann::ordered_json j =
        results(opts, g, timed, replay, s, classification ? &*classification : nullptr, wall);
    if (opts.json) {
      std::cout << j.dump() << '\n';
    } else {
      std::cout << j.dump(2) << '\n';
    }
    return s.accounting_balanced() ? 0 : 3;
  } catch (const std::exception& e) {
    std::cerr << "etcpipe: " << e.what() << '\n';
    return 2;
  }
}

}  // namespace

Runner add_bench_command(CLI::App& app) {
  auto opts = std::make_shared<BenchOptions>();
  opts->gen.cfg.packets = 10'000'000;
  opts->gen.cfg.rate_pps = 10e6;
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
  cmd->add_option("--workers", opts->workers, "Flow-tracking workers")
      ->capture_default_str()
      ->check(CLI::Range(1u, 256u));
  cmd->add_option("--max-flows", opts->max_flows,
                  "Flow table capacity in all (default: 1.25 x --flows, at least 1024)");
  cmd->add_option("--snaplen", opts->snaplen, "Bytes kept of each generated packet")
      ->capture_default_str()
      ->check(CLI::Range(64u, 65535u));
  cmd->add_flag("--json", opts->json, "Print one JSON line instead of text");
  add_generator_options(*cmd, opts->gen);
  add_inference_options(cmd, opts->inference);
  return [opts, cmd] { return run(*opts, cmd); };
}

}  // namespace etcpipe::cli
