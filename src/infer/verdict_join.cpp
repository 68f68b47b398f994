#include "infer/verdict_join.hpp"

#include <algorithm>

namespace etcpipe {

double VerdictStats::latency_percentile(double p) const {
  if (latency_ms.empty()) return 0;
  std::vector<float> v = latency_ms;
  const auto k = std::size_t(std::clamp(p / 100.0, 0.0, 1.0) * double(v.size() - 1) + 0.5);
  std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(k), v.end());
  return v[k];
}

VerdictJoin::VerdictJoin(Classifier& classifier, const Model& model, const FlowTimeouts& timeouts,
                         uint64_t row_timeout_ns, FlowSink& out)
    : classifier_(classifier),
      model_(model),
      timeouts_(timeouts),
      row_timeout_ns_(row_timeout_ns),
      n_(model.spec.packets),
      out_(out) {
  stats_.per_label.resize(model.classes.size());
}

bool VerdictJoin::matches(const FlowRecord& r, const Verdict& v) const {
  return v.info.first_ns >= r.first_ns && v.info.first_ns <= r.last_ns;
}

namespace {

// Of the entries of `m` under key k that `fits`, the one of earliest `start`; m.end() if none.
template <class Map, class Fits, class Start>
typename Map::iterator earliest(Map& m, uint64_t k, Fits&& fits, Start&& start) {
  auto [lo, hi] = m.equal_range(k);
  auto best = m.end();
  for (auto it = lo; it != hi; ++it) {
    if (fits(it->second) && (best == m.end() || start(it->second) < start(best->second))) {
      best = it;
    }
  }
  return best;
}

}  // namespace

void VerdictJoin::write(std::span<const FlowRecord> records) {
  poll();
  for (const FlowRecord& r : records) {
    if (r.selected == 0) {
      ++stats_.no_packets;
      emit(r, nullptr);
      continue;
    }
    const uint64_t k = key(r.worker, r.slot);
    const auto best = earliest(
        verdicts_, k, [&](const Verdict& v) { return matches(r, v); },
        [](const Verdict& v) { return v.info.first_ns; });
    if (best != verdicts_.end()) {
      emit(r, &best->second);
      verdicts_.erase(best);
    } else {
      records_.emplace(k, r);
    }
  }
  flush();
}

void VerdictJoin::poll() {
  taken_.clear();
  classifier_.take_verdicts(taken_);
  for (const Verdict& v : taken_) {
    const uint64_t k = key(v.info.worker, v.info.flow);
    const auto best = earliest(
        records_, k, [&](const FlowRecord& r) { return matches(r, v); },
        [](const FlowRecord& r) { return r.first_ns; });
    if (best != records_.end()) {
      emit(best->second, &v);
      records_.erase(best);
    } else {
      verdicts_.emplace(k, v);
    }
  }
  flush();
}

void VerdictJoin::emit(FlowRecord r, const Verdict* v) {
  if (v != nullptr) {
    // When the row was complete, in packet time: its N-th packet, its timeout, or the flow's
    // end (a flow that goes idle ends a timeout after its last packet).
    uint64_t ready = v->info.last_ns;
    if (v->info.packets < n_) {
      ready = r.last_ns;
      if (r.end_reason == EndReason::Idle) {
        ready += r.proto == 6    ? timeouts_.tcp_idle_ns
                 : r.proto == 17 ? timeouts_.udp_idle_ns
                                 : timeouts_.other_idle_ns;
      } else if (r.end_reason == EndReason::Fin || r.end_reason == EndReason::Rst) {
        ready += timeouts_.tcp_close_ns;
      }
      // With a row timeout, whichever comes first: timers fire at batch granularity when
      // captures are replayed, a probe's would at the timeout itself.
      if (v->info.timed_out != 0 || row_timeout_ns_ != 0) {
        ready = std::min(ready, v->info.first_ns + row_timeout_ns_);
      }
    }
    r.label = model_.classes[v->label].c_str();
    r.confidence = v->confidence;
    r.verdict_latency_ms = float(double(ready - std::min(ready, r.first_ns)) / 1e6 + v->wait_ms);
    ++stats_.classified;
    ++stats_.per_label[v->label];
    stats_.latency_ms.push_back(r.verdict_latency_ms);
  }
  batch_.push_back(r);
}

void VerdictJoin::flush() {
  if (batch_.empty()) return;
  out_.write(batch_);
  batch_.clear();
}

void VerdictJoin::close() {
  classifier_.finish();
  poll();
  for (const auto& [k, r] : records_) {
    ++stats_.no_verdict;
    emit(r, nullptr);
  }
  records_.clear();
  flush();
  out_.close();
}

}  // namespace etcpipe
