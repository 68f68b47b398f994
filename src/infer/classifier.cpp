#include "infer/classifier.hpp"

#include <algorithm>
#include <cmath>

namespace etcpipe {

double Classifier::time_batch(Engine& engine, const Model& model, uint32_t b) {
  FeatureRows rows(model.spec, b);
  std::vector<float> scores(std::size_t{b} * model.classes.size());
  double best = 1e30;
  for (int run = 0; run < 4; ++run) {  // the first run warms up
    const auto t0 = Clock::now();
    engine.infer(rows, b, scores.data());
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (run > 0) best = std::min(best, s);
  }
  return best;
}

double Classifier::handoff_seconds() {
  // A batch goes to an inference thread and its verdicts come back: a round trip between
  // two threads through a mutex and condition variables, as add() and work() make it.
  std::mutex m;
  std::condition_variable cv;
  int turn = 0;
  constexpr int kTrips = 200;
  const auto t0 = Clock::now();
  std::thread other([&] {
    for (int i = 0; i < kTrips; ++i) {
      std::unique_lock lk(m);
      cv.wait(lk, [&] { return turn == 1; });
      turn = 0;
      cv.notify_all();
    }
  });
  for (int i = 0; i < kTrips; ++i) {
    std::unique_lock lk(m);
    turn = 1;
    cv.notify_all();
    cv.wait(lk, [&] { return turn == 0; });
  }
  other.join();
  return std::chrono::duration<double>(Clock::now() - t0).count() / kTrips;
}

Classifier::Classifier(const Model& model, const ClassifierConfig& cfg)
    : model_(model), cfg_(cfg), min_confidence_(cfg.min_confidence.value_or(model.min_confidence)) {
  max_threads_ = std::max(1u, cfg.threads != 0 ? cfg.threads : cfg.max_threads);
  active_ = cfg.threads != 0 ? cfg.threads : 1;
  for (unsigned i = 0; i < max_threads_; ++i) engines_.push_back(model.make_engine(cfg.device));
  batch_ = cfg.batch;
  if (batch_ == 0) {
    // The smallest batch whose cost per row (the engine's time plus the hand-off of the
    // batch between threads) is within 10% of the best measured; batches over 100 ms are
    // not tried (a heavy model is as fast per row well before that).
    const double handoff = handoff_seconds();
    std::vector<std::pair<uint32_t, double>> times;
    for (uint32_t b = 1; b <= 1024; b *= 2) {
      times.emplace_back(b, time_batch(*engines_[0], model, b) + handoff);
      if (times.back().second > 0.1) break;
    }
    double best = 1e30;
    for (const auto& [b, t] : times) best = std::min(best, t / b);
    for (const auto& [b, t] : times) {
      if (t / b <= best * 1.1) {
        batch_ = b;
        batch_seconds_ = t;
        break;
      }
    }
  } else if (cfg.threads == 0) {
    batch_seconds_ = time_batch(*engines_[0], model, batch_);
  }
  out_of_scope_.reserve(FeatureBatch::kCapacity);  // no allocation in add()
  stats_.batch = batch_;
  stats_.threads = stats_.threads_peak = active_;
  window_start_ = Clock::now();
  for (unsigned i = 0; i < max_threads_; ++i) threads_.emplace_back([this, i] { work(i); });
}

Classifier::~Classifier() {
  {
    std::lock_guard lk(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (std::thread& t : threads_) t.join();
}

Classifier::Chunk* Classifier::fresh_chunk() {
  if (free_.empty()) {
    auto c = std::make_unique<Chunk>();
    c->rows = std::make_unique<FeatureRows>(model_.spec, batch_);
    c->arrival.resize(batch_);
    free_.push_back(c.get());
    chunks_.push_back(std::move(c));
  }
  Chunk* c = free_.back();
  free_.pop_back();
  return c;
}

void Classifier::add(const FeatureBatch& batch) {
  // Chunks queued at most: enough to keep every thread busy with one waiting behind it.
  const std::size_t queue_limit = 2 * std::size_t{max_threads_} + 1;
  out_of_scope_.clear();
  std::unique_lock lk(mutex_);
  for (uint32_t r = 0; r < batch.size(); ++r) {
    const FlowInfo& info = batch.info(r);
    if (info.packets < model_.scope.min_packets) {
      Verdict& v = out_of_scope_.emplace_back();
      v.info = info;
      v.out_of_scope = true;
      continue;
    }
    if (filling_ == nullptr) {
      if (cfg_.lossless) {
        space_.wait(lk, [&] { return ready_.size() < queue_limit; });
      } else if (ready_.size() >= queue_limit) {
        ++stats_.dropped;
        continue;
      }
      filling_ = fresh_chunk();
    }
    Chunk& c = *filling_;
    c.rows->copy_row(c.size, batch.rows(r), batch.row(r));
    c.arrival[c.size] = Clock::now();
    ++window_rows_;
    if (++c.size == batch_) {
      ready_.push_back(filling_);
      filling_ = nullptr;
    }
    // A new chunk has a deadline the threads must learn of; a full one is work.
    if (c.size == 1 || filling_ == nullptr) work_ready_.notify_all();
  }
  balance();
  lk.unlock();
  if (out_of_scope_.empty()) return;
  for (const VerdictSubscriber& s : subscribers_) s(out_of_scope_);
}

void Classifier::balance() {
  if (cfg_.threads != 0) return;
  const auto now = Clock::now();
  const double dt = std::chrono::duration<double>(now - window_start_).count();
  if (dt < 0.2) return;
  // Rows one thread classifies per second of engine time, as measured (calibration's
  // estimate before the first batch is done).
  const double per_thread = window_done_ != 0 && window_busy_ > 0
                                ? double(window_done_) / window_busy_
                                : double(batch_) / std::max(1e-9, batch_seconds_);
  const double arriving = double(window_rows_) / dt;
  auto needed = unsigned(std::ceil(arriving / (0.8 * per_thread)));
  if (ready_.size() > active_) needed = std::max(needed, active_ + 1);  // falling behind
  active_ = std::clamp(needed, 1u, max_threads_);
  stats_.threads = active_;
  stats_.threads_peak = std::max(stats_.threads_peak, active_);
  window_start_ = now;
  window_rows_ = window_done_ = 0;
  window_busy_ = 0;
  work_ready_.notify_all();
}

void Classifier::work(unsigned index) {
  const auto classes = uint32_t(model_.classes.size());
  std::vector<float> scores(std::size_t{batch_} * classes);
  std::vector<Verdict> made;
  const auto max_delay = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double, std::milli>(cfg_.max_delay_ms));
  std::unique_lock lk(mutex_);
  for (;;) {
    Chunk* c = nullptr;
    bool at_deadline = false;
    while (c == nullptr) {
      const bool draining = flushing_ || stopping_;
      if (index < active_ || draining) {
        if (!ready_.empty()) {
          c = ready_.front();
          ready_.pop_front();
          break;
        }
        if (filling_ != nullptr && filling_->size > 0) {
          const auto deadline = filling_->arrival[0] + max_delay;
          if (draining || Clock::now() >= deadline) {
            c = filling_;
            filling_ = nullptr;
            at_deadline = !draining;
            break;
          }
          work_ready_.wait_until(lk, deadline);
          continue;
        }
      }
      if (stopping_) return;
      work_ready_.wait(lk);
    }
    ++busy_;
    space_.notify_all();
    lk.unlock();

    const auto t0 = Clock::now();
    engines_[index]->infer(*c->rows, c->size, scores.data());
    const auto t1 = Clock::now();
    made.clear();
    for (uint32_t r = 0; r < c->size; ++r) {
      const float* p = &scores[std::size_t{r} * classes];
      const auto top = uint16_t(std::max_element(p, p + classes) - p);
      Verdict v;
      v.info = c->rows->info(r);
      v.label = top;
      v.confidence = p[top];
      if (v.confidence < min_confidence_ && model_.other >= 0) {
        v.label = uint16_t(model_.other);
      }
      v.wait_ms = std::chrono::duration<double, std::milli>(t1 - c->arrival[r]).count();
      made.push_back(v);
    }
    const double busy = std::chrono::duration<double>(t1 - t0).count();
    for (const VerdictSubscriber& s : subscribers_) s(made);

    lk.lock();
    stats_.rows += c->size;
    ++stats_.batches;
    stats_.deadline_batches += at_deadline;
    stats_.busy_seconds += busy;
    window_busy_ += busy;
    window_done_ += c->size;
    c->size = 0;
    free_.push_back(c);
    --busy_;
    if (busy_ == 0 && ready_.empty() && (filling_ == nullptr || filling_->size == 0)) {
      idle_.notify_all();
    }
  }
}

void Classifier::subscribe(VerdictSubscriber subscriber) {
  std::lock_guard lk(mutex_);
  subscribers_.push_back(std::move(subscriber));
}

void Classifier::finish() {
  std::unique_lock lk(mutex_);
  flushing_ = true;
  work_ready_.notify_all();
  idle_.wait(lk, [&] {
    return busy_ == 0 && ready_.empty() && (filling_ == nullptr || filling_->size == 0);
  });
  flushing_ = false;
}

ClassifierStats Classifier::stats() const {
  std::lock_guard lk(mutex_);
  return stats_;
}

}  // namespace etcpipe
