#include "cli/generator_options.hpp"

namespace etcpipe::cli {

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
  if (o.duration > 0) cfg.packets = static_cast<uint64_t>(o.duration * cfg.rate_pps);
  return cfg;
}

}  // namespace etcpipe::cli
