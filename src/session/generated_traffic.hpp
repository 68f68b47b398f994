// Runs on generated traffic: etcpipe gen (to a pcap file, or sent on an interface) and
// etcpipe bench (replayed from memory through the pipeline), from the generator's
// configuration.
#pragma once

#include <atomic>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "capture/generator.hpp"
#include "session/classification.hpp"
#include "session/inputs.hpp"

namespace etcpipe {

// `cfg` with `duration` seconds of packet time at its rate (0: its packet count). Throws
// std::runtime_error for a rate, duration or packet span the generator or the pcap reader
// cannot hold.
GeneratorConfig checked_generator(GeneratorConfig cfg, double duration);

// What gen wrote or sent.
struct GenResult {
  uint64_t packets = 0, bytes = 0;
  uint64_t flows = 0;        // flows born (written to a file)
  uint64_t refused = 0;      // by the interface (sent)
  uint64_t too_long = 0;     // longer than the interface takes, left out (sent)
  double seconds = 0;        // of sending
  bool interrupted = false;  // by the stop flag
};

// Writes the packets of `cfg` to a pcap file of `snaplen`, until the stop flag.
GenResult write_generated(const GeneratorConfig& cfg, const std::string& path, uint32_t snaplen,
                          const std::atomic<bool>* stop);
// Sends them on `iface` at their packet-time rate (cfg.rate_pps), until the stop flag.
GenResult send_generated(const GeneratorConfig& cfg, const std::string& iface,
                         const std::atomic<bool>* stop);

struct BenchConfig {
  GeneratorConfig traffic;  // the timed packets; an untimed warm-up opens every flow first
  unsigned workers = 1;
  uint32_t max_flows = 0;  // 0: 1.25 x the active flows, at least 1024
  uint32_t snaplen = 128;  // bytes kept of each generated packet
  // The flows' first N packets extracted in the workers and classified: nothing is dropped,
  // the run goes at the pace of its slowest stage.
  std::optional<ClassificationConfig> classification;
};

struct BenchResult {
  nlohmann::ordered_json figures;  // rates, memory, drops (and verdicts), as bench prints them
  bool balanced = true;            // the run's accounting balances
};

// Generates the packets into memory (telling `note` first), then replays them through the
// pipeline. Throws std::runtime_error.
BenchResult run_bench(const BenchConfig& config, const Tell& note);

}  // namespace etcpipe
