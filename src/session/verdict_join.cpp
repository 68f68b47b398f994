#include "session/verdict_join.hpp"

#include <algorithm>

#include "common/percentile.hpp"

namespace etcpipe {

double VerdictStats::latency_percentile(double p) const {
  return percentile(latency_ms, p);
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
  classifier_.subscribe([this](std::span<const Verdict> made) {
    std::lock_guard lk(inbox_mutex_);
    inbox_.insert(inbox_.end(), made.begin(), made.end());
  });
}

VerdictJoin::~VerdictJoin() {
  classifier_.finish();
}

void VerdictJoin::write(std::span<const FlowRecord> records) {
  poll();
  for (const FlowRecord& r : records) {
    if (r.selected == 0 || r.no_row || r.row_dropped) {
      ++(r.selected == 0 ? stats_.no_packets : r.no_row ? stats_.no_row : stats_.no_verdict);
      emit(r, nullptr);
      continue;
    }
    const FlowId k = FlowId::of(r.worker, r.slot, r.generation);
    if (const auto v = verdicts_.find(k); v != verdicts_.end()) {
      emit(r, &v->second);
      verdicts_.erase(v);
    } else {
      records_.emplace(k, r);
    }
  }
  flush();
}

void VerdictJoin::poll() {
  taken_.clear();
  {
    std::lock_guard lk(inbox_mutex_);
    taken_.swap(inbox_);
  }
  for (const Verdict& v : taken_) {
    const FlowId k = FlowId::of(v.info.worker, v.info.slot, v.info.generation);
    if (const auto r = records_.find(k); r != records_.end()) {
      emit(r->second, &v);
      records_.erase(r);
    } else {
      verdicts_.emplace(k, v);
    }
  }
  flush();
}

void VerdictJoin::emit(FlowRecord r, const Verdict* v) {
  if (v != nullptr && v->out_of_scope) {
    r.out_of_scope = true;
    ++stats_.out_of_scope;
  } else if (v != nullptr) {
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
    r.decided_in = DecidedIn::User;
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
