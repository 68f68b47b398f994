#include "cli/pipeline_options.hpp"

#include <bitset>
#include <cmath>
#include <cstdlib>
#include <memory>

#include "session/stop_signals.hpp"

namespace etcpipe::cli {
namespace {

constexpr double kMaxTimeoutSeconds = 1e9;    // ~31 years; keeps ns arithmetic in range
constexpr uint32_t kMaxFlows = 1u << 31;      // FlowTable's limit (32-bit entry indices)
constexpr uint32_t kMaxFragSlots = 1u << 24;  // 1 GiB of fragment table

// An option in seconds bound to a field in nanoseconds, whose value it shows as the default.
CLI::Option* add_seconds(CLI::App* app, const std::string& name, uint64_t& ns,
                         const std::string& what) {
  return app
      ->add_option_function<double>(
          name, [&ns](const double& s) { ns = static_cast<uint64_t>(s * 1e9); }, what)
      ->default_str(CLI::detail::to_string(static_cast<double>(ns) / double(kNsPerSec)));
}

}  // namespace

int exit_status(bool interrupted, uint64_t unreadable, bool balanced) {
  if (interrupted) return interrupted_status();
  if (unreadable != 0) {
    std::cerr << "etcpipe: " << unreadable << " input(s) could not be read\n";
    return 1;
  }
  return balanced ? 0 : 3;
}

Tell warner(bool progress) {
  return [progress](const std::string& msg) {
    std::cerr << (progress ? "\r\x1b[K" : "") << "etcpipe: " << msg << '\n';
  };
}

Tell noter(bool quiet) {
  if (quiet) return {};
  // One write: notes come from several threads (enforcement's from the classifier's).
  return [](const std::string& msg) { std::cerr << "etcpipe: " + msg + '\n'; };
}

std::string out_of_memory_advice(const FlowPipelineConfig& cfg) {
  return "not enough memory for a flow table of " + std::to_string(cfg.table.max_flows) +
         " flows and a fragment table of " + std::to_string(cfg.frag_slots) +
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

void add_pipeline_options(CLI::App* cmd, FlowPipelineConfig& cfg, InputConfig& input,
                          bool select_packets) {
  cmd->add_option_function<unsigned>(
         "--workers",
         [&input](const unsigned& n) {
           input.workers = n;
           input.workers_given = true;
         },
         "Flow-tracking worker threads; packets of a file reach them by symmetric "
         "Toeplitz hash, live packets by the kernel's or the NIC's (one socket or "
         "queue per worker) (default: one fewer than the cores, for the thread that "
         "reads files or collects records)")
      ->default_str(std::to_string(input.workers))
      ->check(CLI::Range(1u, 256u));
  cmd->add_flag_callback(
      "--no-decap", [&cfg] { cfg.decoder.decapsulate = false; },
      "Do not decapsulate tunnels (IP-in-IP, GRE, VXLAN, GTP-U): track the outer flow");
  cmd->add_option("--max-flows", cfg.table.max_flows,
                  "Flow table capacity (1 to 2^31); when full the least recently seen flow is "
                  "evicted (default: a quarter of physical memory, " +
                      std::to_string(FlowTable::bytes_per_flow()) + " bytes per flow)")
      ->check(CLI::Range(1u, kMaxFlows));
  auto* timeouts = cmd->add_option_group("Timeouts", "Seconds of packet time; 0 disables one");
  auto timeout = [&](const char* name, uint64_t& ns, const char* what) {
    add_seconds(timeouts, name, ns, what)
        ->check(finite_number() & CLI::Range(0.0, kMaxTimeoutSeconds));
  };
  FlowTimeouts& t = cfg.table.timeouts;
  timeout("--tcp-idle", t.tcp_idle_ns, "TCP idle timeout");
  timeout("--udp-idle", t.udp_idle_ns, "UDP idle timeout");
  timeout("--other-idle", t.other_idle_ns, "Idle timeout of other protocols");
  timeout("--active-timeout", t.active_ns, "Active timeout: a longer flow is split into records");
  timeout("--tcp-close-timeout", t.tcp_close_ns,
          "How long a TCP flow lingers after FIN both ways or RST, to absorb its last "
          "packets; a new SYN on the same 5-tuple starts a new flow at once");
  timeout("--frag-timeout", cfg.frag_timeout_ns,
          "How long a datagram's later fragments are awaited after the last one");
  cmd->add_option("--frag-table", cfg.frag_slots,
                  "Entries of the IP fragment table (64 bytes each), 1 to 2^24")
      ->capture_default_str()
      ->check(CLI::Range(1u, kMaxFragSlots));
  auto* sel = cmd->add_option_group(
      "Selection", "Which packets of each flow go to feature extraction (the first N that match)");
  SelectionRules& s = cfg.table.select;
  if (select_packets) {
    sel->add_option("--select-packets", s.packets, "N: packets selected per flow, 0-255")
        ->capture_default_str()
        ->check(CLI::Range(0u, 255u));
  }
  sel->add_option_function<std::string>(
         "--select-proto",
         [&s](const std::string& p) {
           s.tcp = p != "udp";
           s.udp = p != "tcp";
         },
         "Protocols whose packets are selected")
      ->default_str(s.tcp && s.udp ? "both"
                    : s.tcp        ? "tcp"
                                   : "udp")
      ->check(CLI::IsMember({"tcp", "udp", "both"}));
  sel->add_flag("--select-empty", s.keep_empty,
                "Also select packets without payload (pure ACK, bare SYN/FIN/RST)");
  sel->add_option_function<std::string>(
         "--select-direction",
         [&s](const std::string& d) {
           s.direction = d == "c2s"   ? Direction::ClientToServer
                         : d == "s2c" ? Direction::ServerToClient
                                      : Direction::Both;
         },
         "both, c2s (client to server) or s2c (server to client)")
      ->default_str(s.direction == Direction::ClientToServer   ? "c2s"
                    : s.direction == Direction::ServerToClient ? "s2c"
                                                               : "both")
      ->check(CLI::IsMember({"both", "c2s", "s2c"}));
  sel->add_option("--select-min-payload", s.min_payload,
                  "Minimum L4 payload bytes of a selected packet")
      ->capture_default_str();
  sel->add_option_function<std::vector<uint16_t>>(
         "--select-ports",
         [&s](const std::vector<uint16_t>& ports) {
           auto set = std::make_shared<std::bitset<65536>>();
           for (uint16_t p : ports) set->set(p);
           s.ports = std::move(set);
         },
         "Only flows with one of these L4 ports (comma-separated)")
      ->delimiter(',')
      ->allow_extra_args(false);
  sel->add_option("--select-filter", cfg.select_filter,
                  "BPF expression a packet must also match to be selected");
  sel->add_option("--select-snaplen", cfg.select_snaplen,
                  "Bytes copied of each selected packet (the extractor's input)")
      ->capture_default_str()
      ->check(CLI::Range(64u, 65535u));
}

}  // namespace etcpipe::cli
