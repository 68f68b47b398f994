#include "session/enforcement.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <fstream>
#include <stdexcept>

#include "common/percentile.hpp"
#include "common/time.hpp"
#include "export/format.hpp"
#include "flow/flow_key.hpp"

namespace etcpipe {
namespace {

// The verdict map's key is etcpipe's FlowKey, byte for byte.
static_assert(sizeof(etcpipe_flow_key) == sizeof(FlowKey));
static_assert(offsetof(etcpipe_flow_key, hi_addr) == offsetof(FlowKey, hi_addr));
static_assert(offsetof(etcpipe_flow_key, lo_port) == offsetof(FlowKey, lo_port));
static_assert(offsetof(etcpipe_flow_key, proto) == offsetof(FlowKey, proto));
static_assert(offsetof(etcpipe_flow_key, ip_version) == offsetof(FlowKey, ip_version));
static_assert(offsetof(etcpipe_flow_key, vlan) == offsetof(FlowKey, vlan));
static_assert(offsetof(etcpipe_flow_key, vlan_outer) == offsetof(FlowKey, vlan_outer));
static_assert(offsetof(etcpipe_flow_key, tunnel) == offsetof(FlowKey, tunnel));
static_assert(offsetof(etcpipe_flow_key, tunnel_id) == offsetof(FlowKey, tunnel_id));

// The map key of the flow whose client -> server tuple is `t`; true when the client is the
// key's lo end (the map's direction 0).
bool map_key(const PacketTuple& t, etcpipe_flow_key& key) {
  FlowKey k;
  uint64_t hash;
  const bool client_is_lo = make_flow_key(t, k, hash);
  std::memcpy(&key, &k, sizeof key);
  return client_is_lo;
}

// The same for a flow record (its client -> server tuple).
PacketTuple record_tuple(const FlowRecord& r) {
  PacketTuple t;
  t.src = r.src;
  t.dst = r.dst;
  t.sport = r.src_port;
  t.dport = r.dst_port;
  t.proto = r.proto;
  t.ip_version = r.ip_version;
  t.vlan = r.vlan;
  t.vlan_outer = r.vlan_outer;
  return t;
}

constexpr std::size_t index(FlowAction a) {
  return static_cast<std::size_t>(a);
}

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  return std::string(s.substr(b, s.find_last_not_of(" \t\r") - b + 1));
}

}  // namespace

bool record_map_key(const FlowRecord& r, etcpipe_flow_key& key) {
  return map_key(record_tuple(r), key);
}

void merge_xdp_counts(FlowRecord& r, const etcpipe_flow_state& s, bool client_is_lo,
                      uint64_t mono_to_real) {
  const std::size_t fwd = client_is_lo ? 0 : 1;
  r.pkts_fwd += s.packets[fwd];
  r.pkts_rev += s.packets[1 - fwd];
  r.bytes_fwd += s.bytes[fwd];
  r.bytes_rev += s.bytes[1 - fwd];
  r.tcp_flags_fwd |= uint8_t(s.tcp_flags[fwd]);
  r.tcp_flags_rev |= uint8_t(s.tcp_flags[1 - fwd]);
  if (s.last_ns != 0) r.last_ns = std::max<uint64_t>(r.last_ns, s.last_ns + mono_to_real);
}

EnforceRule EnforcePolicy::parse_rule(std::string_view text) {
  const std::string rule = trim(text);
  const auto colon = rule.find(':');
  if (colon == std::string::npos) {
    throw std::invalid_argument("'" + rule + "': a rule is ACTION:LABEL[@MINCONF]");
  }
  EnforceRule r;
  const std::string action = rule.substr(0, colon);
  if (action == "pass") {
    r.action = FlowAction::Pass;
  } else if (action == "drop") {
    r.action = FlowAction::Drop;
  } else if (action == "bypass") {
    r.action = FlowAction::Bypass;
  } else {
    throw std::invalid_argument("'" + rule + "': the action is pass, drop or bypass");
  }
  std::string label = rule.substr(colon + 1);
  if (const auto at = label.rfind('@'); at != std::string::npos) {
    const std::string conf = label.substr(at + 1);
    std::size_t used = 0;
    float c = -1;
    try {
      c = std::stof(conf, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != conf.size() || !(c >= 0 && c <= 1)) {
      throw std::invalid_argument("'" + rule + "': MINCONF is a number from 0 to 1");
    }
    r.min_confidence = c;
    label.resize(at);
  }
  if (label.empty()) throw std::invalid_argument("'" + rule + "': no label (* for any)");
  r.label = std::move(label);
  return r;
}

void EnforcePolicy::add_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("--enforce-file " + path + ": cannot read it");
  std::string line;
  for (int n = 1; std::getline(f, line); ++n) {
    const std::string rule = trim(line.substr(0, line.find('#')));
    if (rule.empty()) continue;
    try {
      add(parse_rule(rule));
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error("--enforce-file " + path + ":" + std::to_string(n) + ": " +
                               e.what());
    }
  }
}

void EnforcePolicy::check_labels(const std::vector<std::string>& classes) const {
  for (const EnforceRule& r : rules_) {
    if (r.label == "*" || std::find(classes.begin(), classes.end(), r.label) != classes.end()) {
      continue;
    }
    std::string known;
    for (const std::string& c : classes) known += (known.empty() ? "" : ", ") + c;
    throw std::invalid_argument("--enforce: '" + r.label +
                                "' is not a class of the model (its classes: " + known + ")");
  }
}

FlowAction EnforcePolicy::decide(std::string_view label, float confidence) const {
  for (const EnforceRule& r : rules_) {
    if ((r.label == "*" || r.label == label) && confidence >= r.min_confidence) return r.action;
  }
  return FlowAction::None;
}

double EnforcementStats::latency_percentile(double p) const {
  return percentile(latency_us, p);
}

Enforcer::Enforcer(EnforcePolicy policy, const Model& model, std::shared_ptr<XdpProgram> xdp,
                   FlowSink& out, std::function<void(const std::string&)> log)
    : policy_(std::move(policy)),
      model_(model),
      xdp_(std::move(xdp)),
      out_(out),
      log_(std::move(log)) {
  policy_.check_labels(model_.classes);
}

void Enforcer::act(std::span<const Verdict> verdicts) {
  uint64_t flows[4] = {}, tunnelled = 0, ended = 0, map_errors = 0, kernel = 0;
  const bool kernel_model = xdp_ != nullptr && xdp_->has_kernel_model();
  std::vector<std::pair<FlowId, Decision>> decided;
  for (const Verdict& v : verdicts) {
    if (v.out_of_scope) continue;  // no class: no rule applies, not even *
    const std::string& label = model_.classes[v.label];
    const FlowAction a = policy_.decide(label, v.confidence);
    if (a == FlowAction::None) continue;
    // A row short of N packets that did not time out was finished by its flow's end: there
    // is nothing left to act on (an entry would catch the 5-tuple's next flow).
    if (v.info.packets < model_.spec.packets && v.info.timed_out == 0) {
      ++ended;
      continue;
    }
    if (v.info.tuple.tunnel != TunnelType::None) {  // XDP does not see the inner flow
      ++tunnelled;
      continue;
    }
    etcpipe_flow_key key;
    const bool client_is_lo = map_key(v.info.tuple, key);
    etcpipe_kernel_flow kf;
    if (kernel_model && xdp_->kernel_flow(key, kf) && kf.state == ETCPIPE_KERNEL_DECIDED) {
      ++kernel;  // the kernel decided and acted: its verdict stands
      continue;
    }
    ++flows[index(a)];
    Decision& d =
        decided.emplace_back(FlowId::of(v.info.worker, v.info.slot, v.info.generation), Decision{a})
            .second;
    if (dry_run()) {
      if (log_) {
        char src[64], dst[64], proto[8];
        const PacketTuple& t = v.info.tuple;
        tell(fmt::format("dry run: would {} {} {}:{} -> {}:{} ({} {:.3f})", action_name(a),
                         proto_name(t.proto, proto), format_ip(t.src, t.ip_version, src), t.sport,
                         format_ip(t.dst, t.ip_version, dst), t.dport, label, v.confidence));
      }
      continue;
    }
    if (a == FlowAction::Pass) continue;  // no entry: XDP passes what it does not find
    d.client_is_lo = client_is_lo;
    d.key = key;
    etcpipe_flow_state state{};
    state.action = a == FlowAction::Drop ? ETCPIPE_ACTION_DROP : ETCPIPE_ACTION_BYPASS;
    state.verdict_ns = monotonic_ns();
    d.in_map = xdp_->set_verdict(d.key, state);
    if (!d.in_map) ++map_errors;
  }
  std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < 4; ++i) stats_.flows[i] += flows[i];
  decided_.insert(decided.begin(), decided.end());
  stats_.tunnelled += tunnelled;
  stats_.ended += ended;
  stats_.map_errors += map_errors;
  stats_.kernel += kernel;
}

void Enforcer::tell(const std::string& line) {
  const uint64_t second = monotonic_ns() / kNsPerSec;
  std::lock_guard lock(log_mu_);
  if (second != log_second_) {
    if (unsaid_ != 0) log_(fmt::format("dry run: {} more flows not shown", unsaid_));
    log_second_ = second;
    said_ = 0;
    unsaid_ = 0;
  }
  if (said_ < kDryRunLinesPerSecond) {
    ++said_;
    log_(line);
  } else {
    ++unsaid_;
  }
}

void Enforcer::write(std::span<const FlowRecord> records) {
  batch_.assign(records.begin(), records.end());
  mono_to_real_ = realtime_ns() - monotonic_ns();
  std::lock_guard lock(mu_);
  for (FlowRecord& r : batch_) {
    // Only the flows act() decided on while they were alive (not tunnelled) have an action.
    const auto it = r.label != nullptr ? decided_.find(FlowId::of(r.worker, r.slot, r.generation))
                                       : decided_.end();
    if (it == decided_.end()) continue;
    const Decision d = it->second;
    decided_.erase(it);
    r.action = d.action;
    r.action_dry_run = dry_run();
    if (!d.in_map) continue;
    etcpipe_flow_state s{};
    if (!xdp_->take_verdict(d.key, s)) {
      ++stats_.entries_evicted;
      continue;
    }
    merge_xdp_counts(r, s, d.client_is_lo, mono_to_real_);
    stats_.packets[index(r.action)] += s.packets[0] + s.packets[1];
    stats_.bytes[index(r.action)] += s.bytes[0] + s.bytes[1];
    if (s.first_ns != 0) {
      stats_.latency_us.push_back(
          float(double(s.first_ns - std::min(s.first_ns, s.verdict_ns)) / 1e3));
    }
  }
  out_.write(batch_);
}

EnforcementStats Enforcer::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

std::string Enforcer::summary() const {
  const EnforcementStats s = stats();
  std::string out =
      fmt::format("enforcement{}: {} flows to drop, {} to bypass, {} to pass",
                  dry_run() ? " (dry run)" : "", s.flows[index(FlowAction::Drop)],
                  s.flows[index(FlowAction::Bypass)], s.flows[index(FlowAction::Pass)]);
  if (!dry_run()) {
    const etcpipe_xdp_stats x = xdp_->stats();
    out += fmt::format("; in XDP {} packets dropped, {} bypassed", x.dropped, x.bypassed);
    if (!s.latency_us.empty()) {
      out += fmt::format("; verdict to action us: p50 {:.0f}, p99 {:.0f}", s.latency_percentile(50),
                         s.latency_percentile(99));
    }
  }
  if (s.tunnelled != 0) out += fmt::format("; {} tunnelled flows not acted on", s.tunnelled);
  if (s.ended != 0) out += fmt::format("; {} flows ended before their verdict", s.ended);
  if (s.kernel != 0) out += fmt::format("; {} flows left to the kernel's verdict", s.kernel);
  if (s.map_errors != 0) out += fmt::format("; {} refused by the verdict map", s.map_errors);
  if (s.entries_evicted != 0) {
    out += fmt::format("; {} entries evicted (verdict map full): their records miss XDP's counts",
                       s.entries_evicted);
  }
  return out + '\n';
}

nlohmann::json Enforcer::summary_json() const {
  const EnforcementStats s = stats();
  nlohmann::json j = {{"dry_run", dry_run()},
                      {"flows_drop", s.flows[index(FlowAction::Drop)]},
                      {"flows_bypass", s.flows[index(FlowAction::Bypass)]},
                      {"flows_pass", s.flows[index(FlowAction::Pass)]},
                      {"flows_tunnelled", s.tunnelled},
                      {"flows_ended_first", s.ended},
                      {"flows_kernel", s.kernel},
                      {"map_errors", s.map_errors},
                      {"entries_evicted", s.entries_evicted},
                      {"latency_us_p50", s.latency_percentile(50)},
                      {"latency_us_p99", s.latency_percentile(99)}};
  if (!dry_run()) {
    const etcpipe_xdp_stats x = xdp_->stats();
    j["xdp"] = {{"packets", x.packets},         {"unparsed", x.unparsed},
                {"dropped", x.dropped},         {"dropped_bytes", x.dropped_bytes},
                {"bypassed", x.bypassed},       {"bypassed_bytes", x.bypassed_bytes},
                {"to_user", x.to_user},         {"copy_failed", x.copy_failed},
                {"fail_closed", x.fail_closed}, {"forwarded", x.forwarded}};
  }
  return j;
}

std::string Enforcer::metrics() const {
  const EnforcementStats s = stats();
  fmt::memory_buffer out;
  auto it = std::back_inserter(out);
  fmt::format_to(it,
                 "# HELP etcpipe_enforced_flows_total Verdicts by the action of their rule.\n"
                 "# TYPE etcpipe_enforced_flows_total counter\n");
  for (const FlowAction a : {FlowAction::Pass, FlowAction::Drop, FlowAction::Bypass}) {
    fmt::format_to(it, "etcpipe_enforced_flows_total{{action=\"{}\"}} {}\n", action_name(a),
                   s.flows[index(a)]);
  }
  if (!dry_run()) {
    const etcpipe_xdp_stats x = xdp_->stats();
    fmt::format_to(it,
                   "# HELP etcpipe_xdp_packets_total Packets XDP saw, by what it did.\n"
                   "# TYPE etcpipe_xdp_packets_total counter\n"
                   "etcpipe_xdp_packets_total{{action=\"drop\"}} {}\n"
                   "etcpipe_xdp_packets_total{{action=\"bypass\"}} {}\n"
                   "etcpipe_xdp_packets_total{{action=\"to_user\"}} {}\n"
                   "etcpipe_xdp_packets_total{{action=\"forwarded\"}} {}\n"
                   "etcpipe_xdp_packets_total{{action=\"copy_failed\"}} {}\n",
                   x.dropped, x.bypassed, x.to_user, x.forwarded, x.copy_failed);
  }
  return fmt::to_string(out);
}

}  // namespace etcpipe
