#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <numeric>

#include "pipeline/run_stats.hpp"

namespace etcpipe {

uint64_t RunStats::outcome_total() const {
  return std::accumulate(outcomes.begin(), outcomes.end(), uint64_t{0});
}

namespace {
double rate(uint64_t n, double seconds) {
  return seconds > 0 ? static_cast<double>(n) / seconds : 0;
}
}  // namespace

std::string format_summary(const RunStats& s) {
  std::string out;
  auto it = std::back_inserter(out);
  fmt::format_to(it, "{} packets read ({} bytes) in {:.3f} s, {:.0f} packets/s\n", s.source.packets,
                 s.source.bytes, s.elapsed_s, rate(s.source.packets, s.elapsed_s));
  if (s.source.kernel_drops != 0 || s.source.ring_freezes != 0) {
    fmt::format_to(it, "  {:<34}{:>12}\n", "dropped by the kernel (ring full)",
                   s.source.kernel_drops);
  }
  fmt::format_to(it, "  {:<34}{:>12}\n", "decoded", s.decoded());
  fmt::format_to(it, "  {:<34}{:>12}\n", "in flows", s.outcomes[0]);
  for (std::size_t i = 1; i < kOutcomeCount; ++i) {
    if (s.outcomes[i] != 0) {
      fmt::format_to(it, "  {:<34}{:>12}\n", outcome_name(static_cast<Outcome>(i)), s.outcomes[i]);
    }
  }
  if (s.decapsulated != 0)
    fmt::format_to(it, "  {:<34}{:>12}\n", "(of which decapsulated)", s.decapsulated);
  if (s.source.read_errors != 0) {
    fmt::format_to(it, "  {:<34}{:>12}\n", "inputs ended by a read error", s.source.read_errors);
  }
  fmt::format_to(it, "{} flows, peak {} active; ended:", s.flows.created, s.flows.peak_active);
  for (std::size_t r = 0; r < kEndReasonCount; ++r) {
    fmt::format_to(it, " {} {}", end_reason_name(static_cast<EndReason>(r)), s.flows.ended[r]);
  }
  fmt::format_to(it, "\n");
  fmt::format_to(it, "selection:");
  for (std::size_t i = 0; i < kSelectionCount; ++i) {
    fmt::format_to(it, " {} {}", selection_name(static_cast<Selection>(i)), s.flows.selection[i]);
  }
  fmt::format_to(it, "; copied {}, copy dropped {}\n", s.selected.copied, s.selected.copy_dropped);
  if (s.workers.size() > 1) {
    for (std::size_t w = 0; w < s.workers.size(); ++w) {
      const WorkerStats& ws = s.workers[w];
      fmt::format_to(it,
                     "  worker {}: {} packets, {} flows, {} selected, {} copy dropped, {} evicted",
                     w, ws.packets, ws.flows.created, ws.selected.copied, ws.selected.copy_dropped,
                     ws.flows.ended[static_cast<std::size_t>(EndReason::Evicted)]);
      if (ws.kernel_drops != 0) fmt::format_to(it, ", {} dropped by the kernel", ws.kernel_drops);
      fmt::format_to(it, "\n");
    }
  }
  const auto& f = s.fragments;
  if (f.tracked + f.matched + f.unmatched != 0) {
    fmt::format_to(it, "fragments: {} first, {} later matched, {} without first, {} overwritten\n",
                   f.tracked, f.matched, f.unmatched, f.overwritten);
  }
  if (!s.accounting_balanced()) {
    fmt::format_to(it, "ACCOUNTING ERROR: {} packets read but {} outcomes\n", s.source.packets,
                   s.outcome_total());
  }
  return out;
}

std::string format_progress(const RunStats& s) {
  const double fraction = s.progress;
  std::string out;
  auto it = std::back_inserter(out);
  if (fraction >= 0) fmt::format_to(it, "{:5.1f}%  ", fraction * 100);
  fmt::format_to(it,
                 "{} packets  {:.1f} MB  {:.0f} packets/s  {:.3f} Gbit/s  {} flows active  "
                 "{} dropped",
                 s.source.packets, double(s.source.bytes) / 1e6,
                 rate(s.source.packets, s.elapsed_s), rate(s.source.bytes, s.elapsed_s) * 8e-9,
                 s.flows.active, s.dropped());
  if (fraction > 0.001 && fraction < 1) {
    fmt::format_to(it, "  ETA {:.0f} s", s.elapsed_s * (1 - fraction) / fraction);
  }
  return out;
}

std::string format_stats_json(const RunStats& s) {
  nlohmann::ordered_json j;
  j["packets_read"] = s.source.packets;
  j["bytes_read"] = s.source.bytes;
  j["packets_decoded"] = s.decoded();
  j["packets_in_flows"] = s.outcomes[0];
  auto& outcomes = j["outcomes"] = nlohmann::ordered_json::object();
  for (std::size_t i = 0; i < kOutcomeCount; ++i) {
    outcomes[std::string(outcome_name(static_cast<Outcome>(i)))] = s.outcomes[i];
  }
  j["decapsulated"] = s.decapsulated;
  j["read_errors"] = s.source.read_errors;
  j["kernel_drops"] = s.source.kernel_drops;
  j["ring_freezes"] = s.source.ring_freezes;
  j["packets_received"] = s.received();
  j["interrupted"] = s.interrupted;
  j["flows_created"] = s.flows.created;
  j["flows_peak_active"] = s.flows.peak_active;
  auto& ended = j["flows_ended"] = nlohmann::ordered_json::object();
  for (std::size_t r = 0; r < kEndReasonCount; ++r) {
    ended[end_reason_name(static_cast<EndReason>(r))] = s.flows.ended[r];
  }
  j["flows_evicted"] = s.flows.ended[static_cast<std::size_t>(EndReason::Evicted)];
  j["flows_active"] = s.flows.active;
  j["flow_table_bytes"] = s.flows.resident_bytes;
  auto selection_json = [](const SelectionCounts& c, const SelectedStats& copies) {
    nlohmann::ordered_json out = nlohmann::ordered_json::object();
    for (std::size_t i = 0; i < kSelectionCount; ++i) {
      out[std::string(selection_name(static_cast<Selection>(i)))] = c[i];
    }
    out["copied"] = copies.copied;
    out["copy_dropped"] = copies.copy_dropped;
    return out;
  };
  j["selection"] = selection_json(s.flows.selection, s.selected);
  auto& workers = j["workers"] = nlohmann::ordered_json::array();
  for (const WorkerStats& w : s.workers) {
    workers.push_back(
        {{"packets", w.packets},
         {"kernel_drops", w.kernel_drops},
         {"flows_created", w.flows.created},
         {"flows_active", w.flows.active},
         {"flows_peak_active", w.flows.peak_active},
         {"flows_evicted", w.flows.ended[static_cast<std::size_t>(EndReason::Evicted)]},
         {"selection", selection_json(w.flows.selection, w.selected)}});
  }
  j["fragments"] = {{"first", s.fragments.tracked},
                    {"later_matched", s.fragments.matched},
                    {"without_first", s.fragments.unmatched},
                    {"overwritten", s.fragments.overwritten}};
  j["elapsed_s"] = s.elapsed_s;
  j["packets_per_second"] = rate(s.source.packets, s.elapsed_s);
  j["accounting_balanced"] = s.accounting_balanced();
  return j.dump();
}

std::string format_prometheus(const RunStats& s) {
  fmt::memory_buffer out;
  auto it = std::back_inserter(out);
  auto family = [&](std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(it, "# HELP etcpipe_{} {}\n# TYPE etcpipe_{} {}\n", name, help, name, type);
  };
  auto sample = [&](std::string_view name, uint64_t v, std::string_view labels = {}) {
    fmt::format_to(it, "etcpipe_{}{}{}{} {}\n", name, labels.empty() ? "" : "{", labels,
                   labels.empty() ? "" : "}", v);
  };
  auto labelled = [&](std::string_view name, std::string_view label, std::string_view value,
                      uint64_t v) { sample(name, v, fmt::format("{}=\"{}\"", label, value)); };
  // A family of one unlabelled sample.
  auto single = [&](std::string_view name, std::string_view type, std::string_view help,
                    uint64_t v) {
    family(name, type, help);
    sample(name, v);
  };

  single("packets_read_total", "counter", "Packets read from the source.", s.source.packets);
  single("bytes_read_total", "counter", "Captured bytes read from the source.", s.source.bytes);
  single("kernel_drops_total", "counter",
         "Packets the kernel dropped before etcpipe read them (live capture, ring full).",
         s.source.kernel_drops);
  family("packets_total", "counter", "Packets by outcome (exactly one each).");
  for (std::size_t i = 0; i < kOutcomeCount; ++i) {
    labelled("packets_total", "outcome", outcome_name(static_cast<Outcome>(i)), s.outcomes[i]);
  }
  single("packets_dropped_total", "counter",
         "Packets lost to analysis: dropped by the kernel, in no flow (decode errors, "
         "non-IP, ...), or copies dropped.",
         s.dropped());
  single("flows_created_total", "counter", "Flows created.", s.flows.created);
  family("flows_ended_total", "counter", "Flows ended, by reason.");
  for (std::size_t r = 0; r < kEndReasonCount; ++r) {
    labelled("flows_ended_total", "reason", end_reason_name(static_cast<EndReason>(r)),
             s.flows.ended[r]);
  }
  single("flows_active", "gauge", "Flows in the flow tables.", s.flows.active);
  single("flow_table_bytes", "gauge", "Memory the flow tables have touched.",
         s.flows.resident_bytes);
  family("selection_total", "counter", "Packets in flows by selection outcome.");
  for (std::size_t i = 0; i < kSelectionCount; ++i) {
    labelled("selection_total", "outcome", selection_name(static_cast<Selection>(i)),
             s.flows.selection[i]);
  }
  single("selected_copied_total", "counter", "Selected packets handed to feature extraction.",
         s.selected.copied);
  single("selected_copy_dropped_total", "counter", "Selected packets whose copy was dropped.",
         s.selected.copy_dropped);
  single("flows_without_feature_row_total", "counter",
         "Flows that found every feature row in use: not extracted, not classified.",
         s.features.rows_full);
  family("worker_packets_total", "counter", "Packets given to each flow worker.");
  for (std::size_t w = 0; w < s.workers.size(); ++w) {
    labelled("worker_packets_total", "worker", std::to_string(w), s.workers[w].packets);
  }
  family("worker_kernel_drops_total", "counter",
         "Packets the kernel dropped before each worker's source read them (live capture).");
  for (std::size_t w = 0; w < s.workers.size(); ++w) {
    labelled("worker_kernel_drops_total", "worker", std::to_string(w), s.workers[w].kernel_drops);
  }
  return fmt::to_string(out);
}

}  // namespace etcpipe
