#include "cli/generator_options.hpp"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace etcpipe::cli {
namespace {
constexpr double kMaxPackets = 1e15;                      // days of writing at any speed
constexpr double kLastSecond = double(int64_t{1} << 33);  // the reader's limit (year 2242)
}  // namespace

void add_generator_options(CLI::App& cmd, GeneratorOptions& o) {
  auto* g = cmd.add_option_group("Traffic", "The generated traffic");
  g->add_option("--flows", o.cfg.flows, "Active flows at any time")->capture_default_str();
  g->add_option("--new-flows-per-sec", o.cfg.new_flows_per_sec,
                "Flow births per second of packet time; each replaces a random active flow")
      ->capture_default_str();
  g->add_option("--packet-size", o.sizes,
                "Frame size in bytes, or a comma-separated mix drawn uniformly (e.g. 64,576,1500)")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->check(CLI::Range(54u, 65535u));
  g->add_option("--packets", o.cfg.packets, "Packets in all")->capture_default_str();
  g->add_option("--duration", o.duration, "Seconds of packet time (instead of --packets)");
  g->add_option("--rate", o.cfg.rate_pps, "Packets per second of packet time")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  g->add_option("--tcp-share", o.cfg.tcp_share, "Share of TCP flows (the rest UDP)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  g->add_option("--ipv6-share", o.cfg.ipv6_share, "Share of IPv6 flows")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  g->add_option("--payload", o.payload, "Payload bytes: random or pattern (0x00..0xFF repeated)")
      ->capture_default_str()
      ->check(CLI::IsMember({"random", "pattern"}));
  g->add_option("--seed", o.cfg.seed, "Random seed: the same seed gives the same packets")
      ->capture_default_str();
}

GeneratorConfig generator_config(const GeneratorOptions& o) {
  GeneratorConfig cfg = o.cfg;
  cfg.packet_sizes = o.sizes;
  cfg.random_payload = o.payload == "random";
  auto usage = [](const std::string& what) { throw std::runtime_error(what); };
  if (!std::isfinite(cfg.rate_pps) || cfg.rate_pps <= 0) usage("--rate must be a positive number");
  if (!std::isfinite(cfg.new_flows_per_sec) || cfg.new_flows_per_sec < 0) {
    usage("--new-flows-per-sec must be a number >= 0");
  }
  if (!std::isfinite(o.duration) || o.duration < 0) usage("--duration must be a number >= 0");
  if (o.duration > 0) {
    const double packets = o.duration * cfg.rate_pps;
    if (packets < 1) {
      usage(fmt::format("--duration {} at --rate {} gives no packet (duration x rate < 1)",
                        o.duration, cfg.rate_pps));
    }
    if (packets > kMaxPackets) {
      usage(fmt::format("--duration {} at --rate {} gives {:g} packets, more than {:g}", o.duration,
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

}  // namespace etcpipe::cli
