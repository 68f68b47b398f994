#include "pipeline/run.hpp"

#include <readerwriterqueue/readerwriterqueue.h>

#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "common/backoff.hpp"
#include "pipeline/batch_pool.hpp"
#include "pipeline/toeplitz.hpp"

namespace etcpipe {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kFlushChunk = 4096;  // flows ended per step of the final flush

// Ticks the progress callback and answers whether to stop reading.
class Pacer {
 public:
  explicit Pacer(const RunOptions& o) : o_(o), start_(Clock::now()), next_(start_) { advance(); }
  double elapsed() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  bool stop() const { return o_.stop != nullptr && o_.stop->load(std::memory_order_relaxed); }
  template <class Snapshot>
  void tick(Snapshot&& snapshot) {
    if (!o_.on_tick || Clock::now() < next_) return;
    o_.on_tick(snapshot());
    advance();
  }

 private:
  void advance() {
    next_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(o_.tick_seconds));
  }
  const RunOptions& o_;
  Clock::time_point start_, next_;
};

void add_worker_stats(RunStats& s, const WorkerStats& w) {
  FlowTableStats& total = s.flows;
  total.created += w.flows.created;
  for (std::size_t r = 0; r < kEndReasonCount; ++r) total.ended[r] += w.flows.ended[r];
  for (std::size_t r = 0; r < kSelectionCount; ++r) total.selection[r] += w.flows.selection[r];
  total.active += w.flows.active;
  total.peak_active += w.flows.peak_active;
  total.resident_bytes += w.flows.resident_bytes;
  s.selected.copied += w.selected.copied;
  s.selected.copy_dropped += w.selected.copy_dropped;
  s.features.add(w.features);
}

RunStats base_stats(const PacketSource& source, const PacketStage& stage, double elapsed) {
  RunStats s;
  s.source = source.stats();
  s.outcomes = stage.outcomes();
  s.outcomes[static_cast<std::size_t>(Outcome::FilteredBpf)] = s.source.filtered;
  s.fragments = stage.fragment_stats();
  s.decapsulated = stage.decapsulated();
  s.elapsed_s = elapsed;
  return s;
}

// Hands the sink the run's statistics, closes it, returns them.
RunStats close_sink(FlowSink& sink, RunStats s, bool interrupted) {
  s.interrupted = interrupted;
  sink.summary(format_stats_json(s));
  sink.close();
  return s;
}

void drain(std::vector<FlowRecord>& done, FlowSink& sink) {
  if (!done.empty()) sink.write(done);
  done.clear();
}

// Hands every selected batch and every batch of finished feature rows the worker filled to
// the consumer, and gives them back.
void drain(FlowStage& flows, const RunOptions& opts) {
  SelectedRing& ring = flows.selected();
  while (SelectedBatch* b = ring.take()) {
    if (opts.on_selected) opts.on_selected(*b);
    ring.give_back(b);
  }
  if (FeatureRing* features = flows.features()) {
    while (FeatureBatch* b = features->take()) {
      if (opts.on_features) opts.on_features(*b);
      features->give_back(b);
    }
  }
}

WorkerStats worker_stats(uint64_t packets, FlowStage& flows) {
  return {packets, 0, flows.table().stats(), flows.selected().stats(), flows.extract_stats()};
}

// The statistics of one worker that reads its own source.
RunStats worker_snapshot(const PacketSource& source, FlowPipeline& pipeline, double elapsed) {
  RunStats s = base_stats(source, pipeline.packet_stage(), elapsed);
  s.workers = {worker_stats(s.outcomes[0], pipeline.flow_stage())};
  s.workers[0].kernel_drops = s.source.kernel_drops;
  add_worker_stats(s, s.workers[0]);
  return s;
}

// Adds the statistics of one worker's own source and stages to `total`.
void merge(RunStats& total, const RunStats& part) {
  total.source.add(part.source);
  for (std::size_t i = 0; i < kOutcomeCount; ++i) total.outcomes[i] += part.outcomes[i];
  total.fragments.add(part.fragments);
  total.decapsulated += part.decapsulated;
  for (const WorkerStats& w : part.workers) {
    total.workers.push_back(w);
    add_worker_stats(total, w);
  }
}

FlowPipelineConfig per_worker(const FlowPipelineConfig& cfg, unsigned workers) {
  FlowPipelineConfig c = cfg;
  c.table.max_flows = per_worker_capacity(cfg.table.max_flows, workers);
  return c;
}

// The loop of a worker that reads its own source: both stages on each batch (on a quiet
// live link, the clock alone ends flows), then `hand_over()`; at the end of the input, or
// at *stop, every flow ends, a chunk at a time, each chunk handed over: the records' memory
// is reused rather than grown for them all, and the consumer works while the next chunk
// ends. Returns whether *stop ended the run.
template <class HandOver>
bool run_worker(PacketSource& source, FlowPipeline& pipeline, const std::atomic<bool>* stop,
                HandOver&& hand_over) {
  PacketBatch batch;
  bool interrupted = false;
  for (;;) {
    if (stop != nullptr && stop->load(std::memory_order_relaxed)) {
      interrupted = true;
      break;
    }
    if (!source.next_batch(batch)) break;
    if (batch.size() == 0 && source.quiet_ns() != 0) {
      pipeline.expire(source.quiet_ns());
    } else {
      pipeline.process(batch);
    }
    hand_over();
  }
  const EndReason forced = interrupted ? EndReason::Interrupted : EndReason::EndOfInput;
  bool done;
  do {
    done = pipeline.flush(forced, kFlushChunk);
    hand_over();
  } while (!done);
  return interrupted;
}

// One worker in the calling thread, which also writes the records and feeds the consumers.
RunStats run_single(PacketSource& source, const FlowPipelineConfig& cfg, FlowSink& sink,
                    const RunOptions& opts) {
  Pacer pacer(opts);
  FlowPipeline pipeline(cfg);
  if (opts.lossless)
    pipeline.flow_stage().set_lossless([&] { drain(pipeline.flow_stage(), opts); });
  auto snapshot = [&] { return worker_snapshot(source, pipeline, pacer.elapsed()); };
  const bool interrupted = run_worker(source, pipeline, opts.stop, [&] {
    drain(pipeline.finished(), sink);
    drain(pipeline.flow_stage(), opts);
    pacer.tick(snapshot);
  });
  source.release();  // unmapped while the sink's thread still writes
  return close_sink(sink, snapshot(), interrupted);
}

// ---- several workers -------------------------------------------------------------------

constexpr std::size_t kRetaSize = 128;  // RSS indirection table entries, as on most NICs
constexpr std::size_t kItemsPerWorker = 16;

// What a worker does with its table after a work item's packets.
enum class Flush : uint8_t {
  None,
  TimeReset,    // packet time went back: every flow ends, the clock restarts
  EndOfInput,   // every flow ends, and the worker stops
  Interrupted,  // the same, the run having been stopped before the end of its input
};

struct WorkItem {
  const PacketBatch* batch = nullptr;  // holds the packets' bytes until the item returns
  uint32_t slot = 0;                   // the batch's in the reader's pool
  std::vector<DecodedPacket> packets;  // capacity PacketBatch::kCapacity, never exceeded
  std::vector<uint16_t> index;         // each packet's place in `batch`
  std::vector<FlowRecord> finished;    // flows that ended while the worker ran this item
  uint64_t now_ns = 0;                 // the reader's packet time when it sent the item
  Flush flush = Flush::None;           // after the packets and the sweep
  WorkerStats stats;                   // the worker's counters when it finished the item
};

using Semaphore = moodycamel::spsc_sema::LightweightSemaphore;

// One worker: its flow table lives (and is built) in its own thread. Waits sleep (after a
// short spin) rather than loop on sched_yield: with more threads than free cores, a
// yielding thread takes the core from the thread it waits for.
struct alignas(64) Worker {
  Worker(const FlowPipelineConfig& config, uint16_t worker_id, bool wait_for_consumer,
         Semaphore& item_returned)
      : cfg(config),
        id(worker_id),
        lossless(wait_for_consumer),
        returned(item_returned),
        inbox(kItemsPerWorker),
        outbox(kItemsPerWorker) {}

  void run() {
    try {
      stage.emplace(cfg, id);
    } catch (...) {  // its table does not fit: the Dispatcher rethrows it in the reader
      error = std::current_exception();
      started.store(true, std::memory_order_release);
      return;
    }
    FlowStage& flows = *stage;
    if (lossless) {  // the reader thread drains: wake it, then back off
      flows.set_lossless([this] {
        returned.signal();
        backoff.wait();
      });
    }
    std::array<const DecodedPacket*, PacketBatch::kCapacity> pointers{};
    ready.store(true, std::memory_order_release);
    started.store(true, std::memory_order_release);
    uint64_t packets = 0;
    for (;;) {
      WorkItem* item = nullptr;
      inbox.wait_dequeue(item);
      const std::size_t n = item->packets.size();
      for (std::size_t i = 0; i < n; ++i) pointers[i] = &item->packets[i];
      flows.add(std::span(pointers.data(), n),
                [item](std::size_t k) { return item->batch->bytes(item->index[k]); });
      flows.expire(item->now_ns);
      if (item->flush == Flush::TimeReset) flows.flush(EndReason::TimeReset);
      if (item->flush == Flush::EndOfInput) flows.flush();
      if (item->flush == Flush::Interrupted) flows.flush(EndReason::Interrupted);
      flows.take_finished(item->finished);
      packets += item->packets.size();
      item->stats = worker_stats(packets, flows);
      const bool last = item->flush == Flush::EndOfInput || item->flush == Flush::Interrupted;
      outbox.try_enqueue(item);  // never full: at most kItemsPerWorker items exist
      returned.signal();
      if (last) return;
    }
  }

  FlowPipelineConfig cfg;
  uint16_t id;
  bool lossless;
  Backoff backoff;                   // the worker's waits for the reader to drain
  Semaphore& returned;               // signalled when an item comes back
  std::optional<FlowStage> stage;    // built in the worker's thread
  std::atomic<bool> ready{false};    // stage built: its selected ring may be drained
  std::atomic<bool> started{false};  // stage built, or `error` set
  std::exception_ptr error;          // why the stage could not be built
  moodycamel::BlockingReaderWriterQueue<WorkItem*> inbox;  // reader -> worker
  moodycamel::ReaderWriterQueue<WorkItem*> outbox;         // worker -> reader
  std::vector<std::unique_ptr<WorkItem>> items;            // owned here, used by both sides
  std::vector<WorkItem*> free;                             // reader's
  WorkItem* filling = nullptr;                             // reader's
  WorkerStats stats;                                       // reader's copy, from returned items
  std::thread thread;
};

class Dispatcher {
 public:
  Dispatcher(const FlowPipelineConfig& cfg, unsigned n, FlowSink& sink, const RunOptions& opts)
      : rss_(kSymmetricRssKey), pool_(2 * std::size_t{n} + 2), sink_(sink), opts_(opts) {
    const FlowPipelineConfig worker_cfg = per_worker(cfg, n);
    for (unsigned w = 0; w < n; ++w) {
      auto& wk = *workers_.emplace_back(
          std::make_unique<Worker>(worker_cfg, uint16_t(w), opts.lossless, returned_));
      for (std::size_t i = 0; i < kItemsPerWorker; ++i) {
        auto& item = *wk.items.emplace_back(std::make_unique<WorkItem>());
        item.packets.reserve(PacketBatch::kCapacity);
        item.index.reserve(PacketBatch::kCapacity);
        item.finished.reserve(256);
        wk.free.push_back(&item);
      }
    }
    for (std::size_t i = 0; i < kRetaSize; ++i) reta_[i] = static_cast<uint16_t>(i % n);
    for (auto& w : workers_) w->thread = std::thread([&wk = *w] { wk.run(); });
    // A worker that could not build its flow table (not enough memory) fails the run now,
    // in this thread, after the others are stopped.
    std::exception_ptr error;
    for (auto& w : workers_) {
      Backoff backoff;
      while (!w->started.load(std::memory_order_acquire)) backoff.wait();
      if (w->error) error = w->error;
    }
    if (error) {
      for (auto& w : workers_) {
        if (w->error) continue;
        w->filling = take(*w);
        send(*w, 0, Flush::EndOfInput);
      }
      for (auto& w : workers_) w->thread.join();
      std::rethrow_exception(error);
    }
  }

  // A batch for the source to fill: one whose packets no worker still reads. The reader
  // holds it (a user of its own) until end_batch(): items sent before then (a full item, a
  // time reset) may come back first without the batch going back to the pool.
  PacketBatch& free_batch() {
    while (pool_.empty()) {
      if (!collect_all()) returned_.wait();
    }
    reading_ = pool_.acquire();
    return pool_.batch(reading_);
  }

  // Hands packet `index` of the batch being read (free_batch()'s) to its flow's worker.
  void dispatch(const DecodedPacket& p, uint32_t index, uint64_t now_ns) {
    Worker& w = *workers_[reta_[rss_.hash_tuple(p.tuple) % kRetaSize]];
    if (w.filling == nullptr) w.filling = take(w);
    w.filling->batch = &pool_.batch(reading_);
    w.filling->slot = reading_;
    w.filling->packets.push_back(p);
    w.filling->index.push_back(static_cast<uint16_t>(index));
    if (w.filling->packets.size() == PacketBatch::kCapacity) send(w, now_ns, Flush::None);
  }

  // Packet time went back (PacketStage::process): every worker gets what it has so far,
  // sweeps at the old time and ends every flow, before the packet that went back.
  void time_reset(uint64_t before_ns) { send_to_all(before_ns, Flush::TimeReset); }

  // The batch is done: every worker gets an item, empty if none of the batch's packets
  // were its own, so that all of them expire flows at the batch's packet time exactly as
  // one worker would (results must not depend on W, even when time goes backwards).
  void end_batch(uint64_t now_ns) {
    send_to_all(now_ns, Flush::None);
    pool_.release(reading_);
    collect_all();
  }

  // End of input (or of the run): every worker flushes its table; waits for all and joins
  // them.
  void finish(uint64_t now_ns, bool interrupted) {
    send_to_all(now_ns, interrupted ? Flush::Interrupted : Flush::EndOfInput);
    for (auto& w : workers_) {
      while (w->free.size() < kItemsPerWorker) {
        if (!collect(*w)) returned_.wait();
      }
      w->thread.join();
      drain(*w->stage, opts_);
    }
  }

  void add_stats(RunStats& s) const {
    for (const auto& w : workers_) {
      s.workers.push_back(w->stats);
      add_worker_stats(s, w->stats);
    }
  }

 private:
  WorkItem* take(Worker& w) {
    while (w.free.empty()) {
      if (!collect(w)) returned_.wait();
    }
    WorkItem* item = w.free.back();
    w.free.pop_back();
    return item;
  }
  // Sends every worker its filling item, or an empty one: the clock (and `flush`) reach all.
  void send_to_all(uint64_t now_ns, Flush flush) {
    for (auto& w : workers_) {
      if (w->filling == nullptr) w->filling = take(*w);
      send(*w, now_ns, flush);
    }
  }
  void send(Worker& w, uint64_t now_ns, Flush flush) {
    if (w.filling->batch != nullptr) pool_.retain(w.filling->slot);
    w.filling->now_ns = now_ns;
    w.filling->flush = flush;
    w.inbox.try_enqueue(w.filling);  // never full: at most kItemsPerWorker items exist
    w.filling = nullptr;
  }
  // Takes back the items a worker finished: writes their records, releases their batches,
  // passes on the selected packets. False if none came back.
  bool collect(Worker& w) {
    bool any = false;
    WorkItem* item = nullptr;
    while (w.outbox.try_dequeue(item)) {
      drain(item->finished, sink_);
      if (item->batch != nullptr) pool_.release(item->slot);
      item->batch = nullptr;
      item->packets.clear();
      item->index.clear();
      w.stats = item->stats;
      w.free.push_back(item);
      any = true;
    }
    if (w.ready.load(std::memory_order_acquire)) drain(*w.stage, opts_);
    return any;
  }
  bool collect_all() {
    bool any = false;
    for (auto& w : workers_) any |= collect(*w);
    return any;
  }

  // Signalled by every worker for each item it returns (and when it waits for the reader
  // to drain its selected packets): the reader sleeps on it when it needs an item back.
  // Counts left over from items already collected only cost a loop round.
  Semaphore returned_;
  ToeplitzHash rss_;
  std::array<uint16_t, kRetaSize> reta_{};
  std::vector<std::unique_ptr<Worker>> workers_;
  BatchPool pool_;        // 2W+2 batches: the one being read, those the workers still read
  uint32_t reading_ = 0;  // the slot of the batch being read and dispatched
  FlowSink& sink_;
  const RunOptions& opts_;
};

RunStats run_parallel(PacketSource& source, const FlowPipelineConfig& cfg, FlowSink& sink,
                      const RunOptions& opts) {
  Pacer pacer(opts);
  PacketStage stage(cfg);
  Dispatcher dispatcher(cfg, opts.workers, sink, opts);
  auto snapshot = [&] {
    RunStats s = base_stats(source, stage, pacer.elapsed());
    dispatcher.add_stats(s);
    return s;
  };
  bool interrupted = false;
  for (;;) {
    if (pacer.stop()) {
      interrupted = true;
      break;
    }
    PacketBatch& batch = dispatcher.free_batch();
    if (!source.next_batch(batch)) {
      dispatcher.end_batch(stage.now_ns());
      break;
    }
    stage.process(
        batch,
        [&](const DecodedPacket& p, uint32_t i) { dispatcher.dispatch(p, i, stage.now_ns()); },
        [&](uint64_t before_ns) { dispatcher.time_reset(before_ns); });
    dispatcher.end_batch(stage.now_ns());
    pacer.tick(snapshot);
  }
  dispatcher.finish(stage.now_ns(), interrupted);
  source.release();
  return close_sink(sink, snapshot(), interrupted);
}

// ---- one source per worker -------------------------------------------------------------

constexpr std::size_t kRecordChunks = 16;  // record vectors in flight per worker
constexpr double kPublishSeconds = 0.1;    // how often a worker publishes its statistics

// A worker that reads its own source (a live capture queue) in its own thread, where its
// pipeline is built; its records come back in vectors through a pair of queues.
struct alignas(64) SourceWorker {
  SourceWorker(PacketSource& s, const FlowPipelineConfig& c, uint16_t worker_id)
      : source(s), cfg(c), id(worker_id), full(kRecordChunks), empty(kRecordChunks) {
    for (std::size_t i = 0; i < kRecordChunks; ++i) {
      empty.enqueue(chunks.emplace_back(std::make_unique<std::vector<FlowRecord>>()).get());
    }
  }

  void run(const RunOptions& opts, const std::atomic<bool>& halt, Semaphore& wake) {
    try {
      pipeline.emplace(cfg, id);
    } catch (...) {  // its table does not fit: rethrown in the calling thread
      error = std::current_exception();
      finish(wake);
      return;
    }
    Backoff backoff;
    auto wait_for_collector = [&] {
      wake.signal();
      backoff.wait();
    };
    if (opts.lossless) pipeline->flow_stage().set_lossless(wait_for_collector);
    ready.store(true, std::memory_order_release);
    const auto start = Clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
    double next_publish = 0;
    try {
      run_worker(source, *pipeline, &halt, [&] {
        std::vector<FlowRecord>& finished = pipeline->finished();
        if (!finished.empty()) {  // records are never dropped: the worker waits
          std::vector<FlowRecord>* chunk = nullptr;
          while (!empty.try_dequeue(chunk)) wait_for_collector();
          std::swap(*chunk, finished);
          full.enqueue(chunk);
          wake.signal();
        }
        if (const double t = elapsed(); t >= next_publish) {
          publish(t);
          next_publish = t + kPublishSeconds;
        }
      });
    } catch (...) {  // a source that failed (a socket error): rethrown in the calling thread
      error = std::current_exception();
    }
    publish(elapsed());
    finish(wake);
  }
  void publish(double elapsed) {
    RunStats s = worker_snapshot(source, *pipeline, elapsed);
    std::lock_guard lock(mutex);
    published = std::move(s);
  }
  void finish(Semaphore& wake) {
    done.store(true, std::memory_order_release);
    wake.signal();
  }
  // In the calling thread: writes the records that came back, feeds the consumers.
  void collect(FlowSink& sink, const RunOptions& opts) {
    std::vector<FlowRecord>* chunk = nullptr;
    while (full.try_dequeue(chunk)) {
      drain(*chunk, sink);
      empty.enqueue(chunk);
    }
    if (ready.load(std::memory_order_acquire)) drain(pipeline->flow_stage(), opts);
  }
  // After the calling thread failed: what the worker hands over is thrown away, so that it
  // never waits for room and comes to its end.
  void discard() {
    std::vector<FlowRecord>* chunk = nullptr;
    while (full.try_dequeue(chunk)) {
      chunk->clear();
      empty.enqueue(chunk);
    }
    if (ready.load(std::memory_order_acquire)) drain(pipeline->flow_stage(), RunOptions{});
  }

  PacketSource& source;
  FlowPipelineConfig cfg;
  uint16_t id;
  std::optional<FlowPipeline> pipeline;  // built in the worker's thread
  std::atomic<bool> ready{false};        // pipeline built: its rings may be drained
  std::atomic<bool> done{false};         // the thread has nothing more to hand over
  std::exception_ptr error;              // why the pipeline could not be built, or failed
  std::vector<std::unique_ptr<std::vector<FlowRecord>>> chunks;
  moodycamel::ReaderWriterQueue<std::vector<FlowRecord>*> full;   // worker -> collector
  moodycamel::ReaderWriterQueue<std::vector<FlowRecord>*> empty;  // collector -> worker
  std::mutex mutex;
  RunStats published;  // the worker's statistics, under `mutex`
  std::thread thread;
};

RunStats run_per_source(std::vector<std::unique_ptr<PacketSource>>& sources,
                        const FlowPipelineConfig& cfg, FlowSink& sink, const RunOptions& opts) {
  Pacer pacer(opts);
  Semaphore wake;                 // signalled by the workers when they hand something over or end
  std::atomic<bool> halt{false};  // *opts.stop, or a worker that could not start
  const FlowPipelineConfig worker_cfg = per_worker(cfg, static_cast<unsigned>(sources.size()));
  std::vector<std::unique_ptr<SourceWorker>> workers;
  for (std::size_t w = 0; w < sources.size(); ++w) {
    workers.push_back(std::make_unique<SourceWorker>(*sources[w], worker_cfg, uint16_t(w)));
  }
  for (auto& w : workers) {
    w->thread = std::thread([&wk = *w, &opts, &halt, &wake] { wk.run(opts, halt, wake); });
  }
  auto snapshot = [&] {
    RunStats s;
    for (auto& w : workers) {
      std::lock_guard lock(w->mutex);
      merge(s, w->published);
    }
    s.elapsed_s = pacer.elapsed();
    return s;
  };
  const auto wait_us = static_cast<std::int64_t>(std::min(opts.tick_seconds, 0.05) * 1e6);
  // An output or a consumer that fails in this thread stops the workers; the run ends with
  // its error once they are joined.
  std::exception_ptr failed;
  auto guarded = [&](auto&& step) {
    if (failed) return;
    try {
      step();
    } catch (...) {
      failed = std::current_exception();
      halt.store(true);
    }
  };
  for (;;) {
    bool all_done = true;
    for (auto& w : workers) {
      const bool done = w->done.load(std::memory_order_acquire);  // before its last records
      guarded([&] { w->collect(sink, opts); });
      if (failed) w->discard();
      all_done &= done;
      if (done && w->error) halt.store(true);
    }
    if (all_done) break;
    if (pacer.stop()) halt.store(true);
    guarded([&] { pacer.tick(snapshot); });
    wake.wait(wait_us);
  }
  for (auto& w : workers) w->thread.join();
  if (failed) std::rethrow_exception(failed);
  for (auto& w : workers) {
    if (w->error) std::rethrow_exception(w->error);
  }
  for (auto& s : sources) s->release();
  return close_sink(sink, snapshot(), pacer.stop());
}

}  // namespace

RunStats run_flows(PacketSource& source, const FlowPipelineConfig& config, FlowSink& sink,
                   const RunOptions& opts) {
  FlowPipelineConfig cfg = config;
  cfg.copy_selected = static_cast<bool>(opts.on_selected);
  return opts.workers <= 1 ? run_single(source, cfg, sink, opts)
                           : run_parallel(source, cfg, sink, opts);
}

RunStats run_flows(std::vector<std::unique_ptr<PacketSource>>& sources,
                   const FlowPipelineConfig& config, FlowSink& sink, const RunOptions& opts) {
  FlowPipelineConfig cfg = config;
  cfg.copy_selected = static_cast<bool>(opts.on_selected);
  return sources.size() == 1 ? run_single(*sources[0], cfg, sink, opts)
                             : run_per_source(sources, cfg, sink, opts);
}

}  // namespace etcpipe
