// Batched inference with automatic balancing. The pipeline's consumer thread adds finished
// feature rows; inference threads take batches of them when a batch is full or when its
// oldest row has waited `max_delay_ms`, run the engine, and leave verdicts for the consumer
// to collect.
//
// Balancing (docs/ARCHITECTURE.md, "Inference"): unless given, the batch size comes from a
// calibration at start (the smallest batch whose cost per row, engine time plus the
// hand-off between threads, is within 10% of the best measured), and the number of
// inference threads that take work follows the rate rows arrive at against the rate one
// thread classifies them at, both measured while running, and grows while batches queue
// up, up to `max_threads`.
//
// Verdicts are a stream: each batch's verdicts go to every subscriber as soon as they are
// made, from the inference thread that made them, while their flows may still be open
// (the record join is one subscriber; an enforcer acting on live flows would be another).
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "features/rows.hpp"
#include "infer/model.hpp"

namespace etcpipe {

struct ClassifierConfig {
  uint32_t batch = 0;         // rows per inference batch; 0: calibrated
  unsigned threads = 0;       // inference threads; 0: as many as the arrival rate needs
  unsigned max_threads = 1;   // the most automatic balancing may use
  double max_delay_ms = 100;  // a row waits at most this long (wall clock) for its batch
  // The same when verdicts act on live flows (--enforce): each millisecond a verdict waits
  // lets a fast flow's packets through.
  static constexpr double kEnforcingMaxDelayMs = 10;
  // Below it, the verdict is the model's "other" class; unset: the model's own
  // (Model::min_confidence).
  std::optional<float> min_confidence;
  // Wait for inference when it is behind (files); false: drop rows and count them (a live
  // link must not be slowed down).
  bool lossless = true;
  Device device = Device::Cpu;  // where the engines run
};

struct Verdict {
  FlowInfo info;
  uint16_t label = 0;
  float confidence = 0;
  double wait_ms = 0;  // wall time from the row's arrival here to its verdict
  // The row has fewer packets than the model's scope (Model::scope): it was not classified,
  // and label and confidence mean nothing.
  bool out_of_scope = false;
};

// Receives a batch's verdicts on the inference thread that made them (those of rows out of
// the model's scope, made without inference, on the thread that added the rows); several
// threads may call it at once. It should return quickly: the thread's next batch waits for it.
using VerdictSubscriber = std::function<void(std::span<const Verdict>)>;

struct ClassifierStats {
  uint64_t rows = 0;     // classified
  uint64_t dropped = 0;  // not classified: inference behind (lossless = false)
  uint64_t batches = 0;
  uint64_t deadline_batches = 0;  // sent before they were full, at their deadline
  double busy_seconds = 0;        // summed over threads, in the engine
  uint32_t batch = 0;             // batch size in use
  unsigned threads = 0;           // threads taking work at the end
  unsigned threads_peak = 0;
};

class Classifier {
 public:
  // Makes one engine per thread (throws what Model::make_engine throws) and, with batch 0,
  // calibrates.
  Classifier(const Model& model, const ClassifierConfig& cfg);
  ~Classifier();
  Classifier(const Classifier&) = delete;
  Classifier& operator=(const Classifier&) = delete;

  // Before the first add(): every verdict made from then on also goes to `subscriber`.
  void subscribe(VerdictSubscriber subscriber);
  // The consumer thread: queues the batch's rows (copies). Rows out of the model's scope are
  // not queued: their verdicts go to the subscribers at once, from this thread.
  void add(const FeatureBatch& batch);
  // Classifies every row added, now; waits until their verdicts reached every subscriber.
  void finish();
  ClassifierStats stats() const;
  uint32_t batch_size() const { return batch_; }

  // Seconds the engine takes for batches of size b, the best of a few runs on zero rows.
  static double time_batch(Engine& engine, const Model& model, uint32_t b);
  // Seconds a batch's hand-off to an inference thread and back costs on this machine.
  static double handoff_seconds();

 private:
  using Clock = std::chrono::steady_clock;
  struct Chunk {
    std::unique_ptr<FeatureRows> rows;
    uint32_t size = 0;
    std::vector<Clock::time_point> arrival;
  };

  void work(unsigned index);
  Chunk* fresh_chunk();  // with the lock held
  void balance();        // with the lock held

  const Model& model_;
  ClassifierConfig cfg_;
  float min_confidence_;  // cfg_'s, else the model's
  uint32_t batch_ = 0;
  double batch_seconds_ = 0;  // engine time of one batch, measured at start
  unsigned max_threads_ = 1;
  std::vector<std::unique_ptr<Engine>> engines_;
  std::vector<std::thread> threads_;

  mutable std::mutex mutex_;
  std::condition_variable work_ready_;  // a chunk is ready, a deadline moved, or stopping
  std::condition_variable space_;       // a chunk was taken (the producer may go on)
  std::condition_variable idle_;        // nothing queued and no thread busy
  std::deque<Chunk*> ready_;
  Chunk* filling_ = nullptr;
  std::vector<std::unique_ptr<Chunk>> chunks_;
  std::vector<Chunk*> free_;
  unsigned busy_ = 0;
  unsigned active_ = 1;  // threads with index < active_ take work
  bool stopping_ = false;
  bool flushing_ = false;
  std::vector<VerdictSubscriber> subscribers_;  // set before the threads get work
  std::vector<Verdict> out_of_scope_;           // add()'s, for its subscribers
  ClassifierStats stats_;
  // Rates for balancing: rows arrived and engine time since the last decision.
  Clock::time_point window_start_;
  uint64_t window_rows_ = 0;
  double window_busy_ = 0;
  uint64_t window_done_ = 0;
};

}  // namespace etcpipe
