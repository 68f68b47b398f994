// The fields of a flow record, in the one order every format writes them (docs: README,
// "Flow records"). A visitor gets text(name, string_view), number(name, uint64_t),
// time(name, ns) calls and, with `verdicts` (runs that classify), real(name, double) and
// null(name) for the verdict's fields.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

#include "export/format.hpp"
#include "flow/flow_record.hpp"

namespace etcpipe {

// Whether a flow was classified, and why not: a flow with no selected packet has nothing to
// classify; one whose row had fewer packets than the model's scope gets no class; one that
// found no free feature row (every row in use) was not extracted; one whose row was dropped
// (inference behind) got no verdict.
inline std::string_view verdict_status(const FlowRecord& r) {
  return r.label != nullptr ? "classified"
         : r.selected == 0  ? "no-packet"
         : r.out_of_scope   ? "out-of-scope"
         : r.no_row         ? "no-row"
                            : "no-verdict";
}

template <class Visitor>
void visit_record(const FlowRecord& r, Visitor&& v, bool verdicts = false) {
  char src[64], dst[64], proto[8];
  v.text("src_ip", format_ip(r.src, r.ip_version, src));
  v.text("dst_ip", format_ip(r.dst, r.ip_version, dst));
  v.number("src_port", r.src_port);
  v.number("dst_port", r.dst_port);
  v.text("proto", proto_name(r.proto, proto));
  v.number("ip_version", r.ip_version);
  v.number("vlan", r.vlan);
  v.number("vlan_outer", r.vlan_outer);
  v.text("tunnel", tunnel_name(r.tunnel));
  v.number("tunnel_id", r.tunnel_id);
  v.time("first_ts", r.first_ns);
  v.time("last_ts", r.last_ns);
  v.number("pkts_fwd", r.pkts_fwd);
  v.number("pkts_rev", r.pkts_rev);
  v.number("bytes_fwd", r.bytes_fwd);
  v.number("bytes_rev", r.bytes_rev);
  v.number("tcp_flags_fwd", r.tcp_flags_fwd);
  v.number("tcp_flags_rev", r.tcp_flags_rev);
  v.text("end_reason", end_reason_name(r.end_reason));
  if (!verdicts) return;
  if (r.action == FlowAction::None) {
    v.null("action");
  } else if (r.action_dry_run) {
    char would[24] = "would-";
    std::strcat(would, action_name(r.action));
    v.text("action", std::string_view(would));
  } else {
    v.text("action", action_name(r.action));
  }
  if (r.label == nullptr) {
    v.null("label");
    v.null("confidence");
    v.null("verdict_latency_ms");
    v.null("decided_in");
  } else {
    v.text("label", r.label);
    v.real("confidence", r.confidence);
    v.real("verdict_latency_ms", r.verdict_latency_ms);
    v.text("decided_in", decided_in_name(r.decided_in));
  }
  v.text("verdict_status", verdict_status(r));
}

// The field names, in order.
template <class F>
void visit_record_names(F&& f, bool verdicts = false) {
  struct Names {
    F& f;
    void text(std::string_view n, std::string_view) { f(n); }
    void number(std::string_view n, uint64_t) { f(n); }
    void time(std::string_view n, uint64_t) { f(n); }
    void real(std::string_view n, double) { f(n); }
    void null(std::string_view n) { f(n); }
  };
  FlowRecord classified;
  classified.label = "";
  visit_record(classified, Names{f}, verdicts);
}

}  // namespace etcpipe
