#include "cli/pipeline_options.hpp"

#include <unistd.h>

#include <algorithm>
#include <bitset>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <stdexcept>

namespace etcpipe::cli {
namespace {

// A quarter of physical memory, in flows.
uint32_t default_max_flows() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGE_SIZE);
  const uint64_t mem = pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : (1ULL << 32);
  return static_cast<uint32_t>(
      std::min<uint64_t>(mem / 4 / FlowTable::bytes_per_flow(), uint64_t{1} << 31));
}

constexpr double kMaxTimeoutSeconds = 1e9;    // ~31 years; keeps ns arithmetic in range
constexpr uint32_t kMaxFlows = 1u << 31;      // FlowTable's limit (32-bit entry indices)
constexpr uint32_t kMaxFragSlots = 1u << 24;  // 1 GiB of fragment table

uint64_t to_ns(double seconds) {
  return static_cast<uint64_t>(seconds * 1e9);
}

}  // namespace

Warn warner(bool progress) {
  return [progress](const std::string& msg) {
    std::cerr << (progress ? "\r\x1b[K" : "") << "etcpipe: " << msg << '\n';
  };
}

std::string join(const std::vector<std::string>& words) {
  std::string s;
  for (const auto& w : words) s += (s.empty() ? "" : " ") + w;
  return s;
}

std::string out_of_memory_advice(const PipelineOptions& o) {
  const uint64_t flows = o.max_flows != 0 ? o.max_flows : default_max_flows();
  return "not enough memory for a flow table of " + std::to_string(flows) +
         " flows and a fragment table of " + std::to_string(o.frag_slots) +
         " entries: lower --max-flows (or --frag-table)";
}

CLI::Validator finite_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (end == text.c_str()) return "";  // not a number: the option's own parser says so
        return std::isfinite(v) ? "" : "must be a finite number, not " + text;
      },
      "FINITE");
}

void add_pipeline_options(CLI::App* cmd, PipelineOptions& o, bool select_packets) {
  cmd->add_option("--workers", o.workers,
                  "Flow-tracking worker threads; packets of a file reach them by symmetric "
                  "Toeplitz hash, live packets by the kernel's or the NIC's (one socket or "
                  "queue per worker) (default: one fewer than the cores, for the thread that "
                  "reads files or collects records)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 256u));
  cmd->add_flag("--no-decap", o.no_decap,
                "Do not decapsulate tunnels (IP-in-IP, GRE, VXLAN, GTP-U): track the outer flow");
  cmd->add_option("--max-flows", o.max_flows,
                  "Flow table capacity (1 to 2^31); when full the least recently seen flow is "
                  "evicted (default: a quarter of physical memory, " +
                      std::to_string(FlowTable::bytes_per_flow()) + " bytes per flow)")
      ->check(CLI::Range(1u, kMaxFlows));
  auto* timeouts = cmd->add_option_group("Timeouts", "Seconds of packet time; 0 disables one");
  auto timeout = [&](const char* name, double& value, const char* what) {
    timeouts->add_option(name, value, what)
        ->capture_default_str()
        ->check(finite_number() & CLI::Range(0.0, kMaxTimeoutSeconds));
  };
  timeout("--tcp-idle", o.tcp_idle, "TCP idle timeout");
  timeout("--udp-idle", o.udp_idle, "UDP idle timeout");
  timeout("--other-idle", o.other_idle, "Idle timeout of other protocols");
  timeout("--active-timeout", o.active, "Active timeout: a longer flow is split into records");
  timeout("--tcp-close-timeout", o.tcp_close,
          "How long a TCP flow lingers after FIN both ways or RST, to absorb its last "
          "packets; a new SYN on the same 5-tuple starts a new flow at once");
  timeout("--frag-timeout", o.frag_timeout,
          "How long a datagram's later fragments are awaited after the last one");
  cmd->add_option("--frag-table", o.frag_slots,
                  "Entries of the IP fragment table (64 bytes each), 1 to 2^24")
      ->capture_default_str()
      ->check(CLI::Range(1u, kMaxFragSlots));
  auto* sel = cmd->add_option_group(
      "Selection", "Which packets of each flow go to feature extraction (the first N that match)");
  if (select_packets) {
    sel->add_option("--select-packets", o.select_packets, "N: packets selected per flow, 0-255")
        ->capture_default_str()
        ->check(CLI::Range(0u, 255u));
  }
  sel->add_option("--select-proto", o.select_proto, "Protocols whose packets are selected")
      ->capture_default_str()
      ->check(CLI::IsMember({"tcp", "udp", "both"}));
  sel->add_flag("--select-empty", o.select_empty,
                "Also select packets without payload (pure ACK, bare SYN/FIN/RST)");
  sel->add_option("--select-direction", o.select_direction,
                  "both, c2s (client to server) or s2c (server to client)")
      ->capture_default_str()
      ->check(CLI::IsMember({"both", "c2s", "s2c"}));
  sel->add_option("--select-min-payload", o.select_min_payload,
                  "Minimum L4 payload bytes of a selected packet")
      ->capture_default_str();
  sel->add_option("--select-ports", o.select_ports,
                  "Only flows with one of these L4 ports (comma-separated)")
      ->delimiter(',')
      ->allow_extra_args(false);
  sel->add_option("--select-filter", o.select_filter,
                  "BPF expression a packet must also match to be selected");
  sel->add_option("--select-snaplen", o.select_snaplen,
                  "Bytes copied of each selected packet (the extractor's input)")
      ->capture_default_str()
      ->check(CLI::Range(64u, 65535u));
}

uint32_t snaplen_for(const FeatureSpec& spec) {
  return std::clamp(spec.bytes + 512, FlowPipelineConfig{}.select_snaplen, 65535u);
}

FlowPipelineConfig pipeline_config(const PipelineOptions& o) {
  FlowPipelineConfig cfg;
  cfg.decoder.decapsulate = !o.no_decap;
  cfg.table.max_flows = o.max_flows != 0 ? o.max_flows : default_max_flows();
  cfg.table.timeouts = {to_ns(o.tcp_idle), to_ns(o.udp_idle), to_ns(o.other_idle), to_ns(o.active),
                        to_ns(o.tcp_close)};
  cfg.frag_slots = o.frag_slots;
  cfg.frag_timeout_ns = to_ns(o.frag_timeout);
  SelectionRules& sel = cfg.table.select;
  sel.packets = o.select_packets;
  sel.tcp = o.select_proto != "udp";
  sel.udp = o.select_proto != "tcp";
  sel.keep_empty = o.select_empty;
  sel.direction = o.select_direction == "c2s"   ? Direction::ClientToServer
                  : o.select_direction == "s2c" ? Direction::ServerToClient
                                                : Direction::Both;
  sel.min_payload = o.select_min_payload;
  if (!o.select_ports.empty()) {
    auto ports = std::make_shared<std::bitset<65536>>();
    for (uint16_t p : o.select_ports) ports->set(p);
    sel.ports = std::move(ports);
  }
  cfg.select_filter = o.select_filter;
  cfg.select_snaplen = o.select_snaplen;

  return cfg;
}

}  // namespace etcpipe::cli
