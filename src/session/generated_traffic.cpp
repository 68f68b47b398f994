#include "session/generated_traffic.hpp"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include "capture/afpacket_sender.hpp"
#include "capture/memory_source.hpp"
#include "capture/pcap_writer.hpp"
#include "pipeline/run.hpp"

namespace etcpipe {
namespace {

constexpr double kMaxPackets = 1e15;                      // days of writing at any speed
constexpr double kLastSecond = double(int64_t{1} << 33);  // the reader's limit (year 2242)

bool stopped(const std::atomic<bool>* stop) {
  return stop && stop->load(std::memory_order_relaxed);
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;  // kilobytes on Linux
}

// The figures of a run.
nlohmann::ordered_json figures(const BenchConfig& c, const GeneratorConfig& g, uint64_t timed,
                               const MemorySource& replay, const RunStats& s,
                               const Classification* classification, double wall) {
  const double secs = replay.seconds_after_mark();
  const double mpps = double(replay.packets_after_mark()) / secs / 1e6;
  nlohmann::ordered_json j;
  j["flows"] = g.flows;
  j["new_flows_per_sec"] = g.new_flows_per_sec;
  j["packet_sizes"] = g.packet_sizes;
  j["packets"] = timed;
  j["workers"] = c.workers;
  j["seconds"] = secs;
  j["mpps"] = mpps;
  j["mpps_per_worker"] = mpps / c.workers;
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
    const ClassifierStats cs = classification->classifier_stats();
    j["model"] = classification->model().name;
    j["wall_seconds"] = wall;
    j["classified"] = v.classified;
    j["classified_flows_per_sec"] = double(v.classified) / wall;
    j["batch"] = cs.batch;
    j["infer_threads"] = cs.threads;
    j["infer_threads_peak"] = cs.threads_peak;
    j["infer_busy_seconds"] = cs.busy_seconds;
    j["deadline_batches"] = cs.deadline_batches;
    j["batches"] = cs.batches;
    j["verdict_latency_ms_p50"] = v.latency_percentile(50);
    j["verdict_latency_ms_p99"] = v.latency_percentile(99);
  }
  return j;
}

}  // namespace

GeneratorConfig checked_generator(GeneratorConfig cfg, double duration) {
  auto usage = [](const std::string& what) { throw std::runtime_error(what); };
  if (!std::isfinite(cfg.rate_pps) || cfg.rate_pps <= 0) usage("--rate must be a positive number");
  if (!std::isfinite(cfg.new_flows_per_sec) || cfg.new_flows_per_sec < 0) {
    usage("--new-flows-per-sec must be a number >= 0");
  }
  if (!std::isfinite(duration) || duration < 0) usage("--duration must be a number >= 0");
  if (duration > 0) {
    const double packets = duration * cfg.rate_pps;
    if (packets < 1) {
      usage(fmt::format("--duration {} at --rate {} gives no packet (duration x rate < 1)",
                        duration, cfg.rate_pps));
    }
    if (packets > kMaxPackets) {
      usage(fmt::format("--duration {} at --rate {} gives {:g} packets, more than {:g}", duration,
                        cfg.rate_pps, packets, kMaxPackets));
    }
    cfg.packets = static_cast<uint64_t>(packets);
  }
  // Packet times must stay within what a pcap timestamp (and the reader) holds.
  const double span_s = double(cfg.packets) / cfg.rate_pps;
  const double room_s = kLastSecond - double(cfg.start_ns / 1'000'000'000ULL);
  if (span_s > room_s) {
    usage(fmt::format(
        "{} packets at --rate {} span {:g} s of packet time, more than the {:g} s left before "
        "the year 2242 (the last time etcpipe reads): raise --rate or lower --packets/--duration",
        cfg.packets, cfg.rate_pps, span_s, room_s));
  }
  return cfg;
}

GenResult write_generated(const GeneratorConfig& cfg, const std::string& path, uint32_t snaplen,
                          const std::atomic<bool>* stop) {
  GeneratorSource gen(cfg);
  PacketBatch batch;
  PcapWriter out(path, 1, snaplen);
  while (!stopped(stop) && gen.next_batch(batch)) out.write(batch);
  out.close();
  GenResult r;
  r.packets = gen.stats().packets;
  r.bytes = gen.stats().bytes;
  r.flows = gen.flows_born();
  r.interrupted = stopped(stop);
  return r;
}

GenResult send_generated(const GeneratorConfig& cfg, const std::string& iface,
                         const std::atomic<bool>* stop) {
  GeneratorSource gen(cfg);
  PacketBatch batch;
  uint32_t largest = 0;
  for (uint32_t size : cfg.packet_sizes) largest = std::max(largest, size);
  AfPacketSender out(iface, largest, cfg.rate_pps);
  const auto start = std::chrono::steady_clock::now();
  while (!stopped(stop) && gen.next_batch(batch)) out.send(batch);
  GenResult r;
  r.refused = out.finish();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.packets = out.packets();
  r.bytes = out.bytes();
  r.too_long = out.too_long();
  r.interrupted = stopped(stop);
  return r;
}

BenchResult run_bench(const BenchConfig& c, const Tell& note) {
  GeneratorConfig g = c.traffic;
  const uint64_t timed = g.packets;
  g.packets += g.flows;  // warm-up: one packet opens each flow
  g.open_all_first = true;
  g.snaplen = c.snaplen;
  note("generating " + std::to_string(g.packets) + " packets...");
  GeneratorSource gen(g);
  MemorySource replay(gen);
  replay.set_mark(g.flows);

  FlowPipelineConfig cfg;
  cfg.table.max_flows =
      c.max_flows != 0 ? c.max_flows : uint32_t(std::max<uint64_t>(1024, g.flows + g.flows / 4));
  NullSink null_sink;
  FlowSink* sink = &null_sink;
  RunOptions ro;
  ro.workers = c.workers;
  ro.lossless = false;  // a probe at line rate drops what it cannot keep up with
  std::optional<Classification> classification;
  if (c.classification) {
    classification.emplace(*c.classification);
    cfg.select_snaplen = std::max<uint32_t>(c.snaplen, 64);
    classification->configure(cfg);
    sink = &classification->attach(ro, null_sink, cfg);
    ro.lossless = true;  // every flow classified: the slowest stage sets the pace
  }
  const auto start = std::chrono::steady_clock::now();
  const RunStats s = run_flows(replay, cfg, *sink, ro);
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {figures(c, g, timed, replay, s, classification ? &*classification : nullptr, wall),
          s.accounting_balanced()};
}

}  // namespace etcpipe
