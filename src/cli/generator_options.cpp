#include "cli/generator_options.hpp"

#include <string>

namespace etcpipe::cli {

void add_generator_options(CLI::App& cmd, GeneratorConfig& cfg, double& duration) {
  auto* g = cmd.add_option_group("Traffic", "The generated traffic");
  g->add_option("--flows", cfg.flows, "Active flows at any time")->capture_default_str();
  g->add_option("--new-flows-per-sec", cfg.new_flows_per_sec,
                "Flow births per second of packet time; each replaces a random active flow")
      ->capture_default_str();
  g->add_option("--packet-size", cfg.packet_sizes,
                "Frame size in bytes, or a comma-separated mix drawn uniformly (e.g. 64,576,1500)")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->check(CLI::Range(54u, 65535u));
  g->add_option("--packets", cfg.packets, "Packets in all")->capture_default_str();
  g->add_option("--duration", duration, "Seconds of packet time (instead of --packets)");
  g->add_option("--rate", cfg.rate_pps, "Packets per second of packet time")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  g->add_option("--tcp-share", cfg.tcp_share, "Share of TCP flows (the rest UDP)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  g->add_option("--ipv6-share", cfg.ipv6_share, "Share of IPv6 flows")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  g->add_option_function<std::string>(
       "--payload", [&cfg](const std::string& p) { cfg.random_payload = p == "random"; },
       "Payload bytes: random or pattern (0x00..0xFF repeated)")
      ->default_str(cfg.random_payload ? "random" : "pattern")
      ->check(CLI::IsMember({"random", "pattern"}));
  g->add_option("--seed", cfg.seed, "Random seed: the same seed gives the same packets")
      ->capture_default_str();
}

}  // namespace etcpipe::cli
