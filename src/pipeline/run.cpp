#include "pipeline/run.hpp"

#include <readerwriterqueue/readerwriterqueue.h>

#include <chrono>
#include <exception>
#include <functional>
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
using Semaphore = moodycamel::spsc_sema::LightweightSemaphore;
constexpr std::size_t kFlushChunk = 4096;  // flows ended per step of the final flush
constexpr std::size_t kRecordChunks = 16;  // record vectors in flight per worker
constexpr double kPublishSeconds = 0.1;    // how often a worker publishes its statistics

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

// What a source and the packet stage that decoded its packets counted.
RunStats source_stats(const PacketSource& source, const PacketStage& stage) {
  RunStats s;
  s.source = source.stats();
  s.outcomes = stage.outcomes();
  s.outcomes[static_cast<std::size_t>(Outcome::FilteredBpf)] = s.source.filtered;
  s.fragments = stage.fragment_stats();
  s.decapsulated = stage.decapsulated();
  s.progress = source.progress();
  return s;
}

// Adds `part` (a source's counts, workers' counts, or both) to `total`.
void merge(RunStats& total, const RunStats& part) {
  total.source.add(part.source);
  for (std::size_t i = 0; i < kOutcomeCount; ++i) total.outcomes[i] += part.outcomes[i];
  total.fragments.add(part.fragments);
  total.decapsulated += part.decapsulated;
  if (part.progress >= 0) total.progress = part.progress;
  for (const WorkerStats& w : part.workers) {
    total.workers.push_back(w);
    add_worker_stats(total, w);
  }
}

void drain(std::vector<FlowRecord>& done, FlowSink& sink) {
  if (!done.empty()) sink.write(done);
  done.clear();
}

// Hands every selected batch and every batch of finished feature rows the worker filled to
// the consumer, and gives them back; false if there were none.
bool drain(FlowStage& flows, const RunOptions& opts) {
  bool any = false;
  SelectedRing& ring = flows.selected();
  while (SelectedBatch* b = ring.take()) {
    if (opts.on_selected) opts.on_selected(*b);
    ring.give_back(b);
    any = true;
  }
  if (FeatureRing* features = flows.features()) {
    while (FeatureBatch* b = features->take()) {
      if (opts.on_features) opts.on_features(*b);
      features->give_back(b);
      any = true;
    }
  }
  return any;
}

FlowPipelineConfig per_worker(const FlowPipelineConfig& cfg, std::size_t workers) {
  FlowPipelineConfig c = cfg;
  c.table.max_flows = per_worker_capacity(cfg.table.max_flows, static_cast<unsigned>(workers));
  return c;
}

// ---- a split source: one source read and decoded for several workers -------------------

constexpr std::size_t kRetaSize = 128;  // RSS indirection table entries, as on most NICs
constexpr std::size_t kItemsPerWorker = 16;

// What a worker does with its table after a work item's packets.
enum class Flush : uint8_t {
  None,
  TimeReset,    // packet time went back: every flow ends, the clock restarts
  EndOfInput,   // every flow ends, and the worker's input ends
  Interrupted,  // the same, the run having been stopped before the end of its input
};

// Decoded packets of one of the splitter's batches for one worker.
struct WorkItem {
  const PacketBatch* batch = nullptr;  // holds the packets' bytes until the item returns
  uint32_t slot = 0;                   // the batch's in the splitter's pool
  std::vector<DecodedPacket> packets;  // capacity PacketBatch::kCapacity, never exceeded
  std::vector<uint16_t> index;         // each packet's place in `batch`
  uint64_t now_ns = 0;                 // the splitter's packet time when it sent the item
  Flush flush = Flush::None;           // after the packets and the sweep
};

// One worker's share of a split source: its items go to the worker through `inbox` and
// come back through `outbox`; the rest is the splitter's.
struct Share {
  Share() : inbox(kItemsPerWorker), outbox(kItemsPerWorker) {
    for (std::size_t i = 0; i < kItemsPerWorker; ++i) {
      auto& item = *items.emplace_back(std::make_unique<WorkItem>());
      item.packets.reserve(PacketBatch::kCapacity);
      item.index.reserve(PacketBatch::kCapacity);
      free.push_back(&item);
    }
  }
  moodycamel::BlockingReaderWriterQueue<WorkItem*> inbox;  // splitter -> worker
  moodycamel::ReaderWriterQueue<WorkItem*> outbox;         // worker -> splitter
  std::vector<std::unique_ptr<WorkItem>> items;            // owned here, used by both sides
  std::vector<WorkItem*> free;                             // the splitter's
  WorkItem* filling = nullptr;                             // the splitter's
};

bool is_last(Flush f) {
  return f == Flush::EndOfInput || f == Flush::Interrupted;
}

// ---- the worker ------------------------------------------------------------------------

// What the collector and the workers tell one another.
struct Signals {
  Semaphore wake;                    // workers -> collector: something to collect, or an end
  std::atomic<bool> halt{false};     // collector -> workers: stop (a failure, *RunOptions::stop)
  std::atomic<bool> napping{false};  // the collector sleeps long: wake it for any hand-over
};

// A worker owns its input (a source of its own, or its share of a split source), its
// pipeline (built in its thread) and the queues its records go out by; it runs one loop in
// its own thread. The collector (the calling thread) writes its records and feeds the
// consumers from its rings.
class alignas(64) Worker {
 public:
  Worker(PacketSource* source, Share* share, const FlowPipelineConfig& cfg, uint16_t id)
      : source_(source),
        share_(share),
        cfg_(cfg),
        id_(id),
        full_(kRecordChunks),
        empty_(kRecordChunks) {
    for (std::size_t i = 0; i < kRecordChunks; ++i) {
      empty_.enqueue(chunks_.emplace_back(std::make_unique<std::vector<FlowRecord>>()).get());
    }
  }

  void start(const RunOptions& opts, Signals& signals) {
    thread_ = std::thread([this, &opts, &signals] { run(opts, signals); });
  }
  void join() { thread_.join(); }
  bool done() const { return done_.load(std::memory_order_acquire); }
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  bool interrupted() const { return interrupted_; }  // after join()
  const std::exception_ptr& error() const { return error_; }
  RunStats published() {
    std::lock_guard lock(mutex_);
    return published_;
  }

  // In the collector: writes the records that came back, feeds the consumers; false if
  // there was nothing.
  bool collect(FlowSink& sink, const RunOptions& opts) {
    bool any = false;
    std::vector<FlowRecord>* chunk = nullptr;
    while (full_.try_dequeue(chunk)) {
      drain(*chunk, sink);
      empty_.enqueue(chunk);
      any = true;
    }
    if (ready_.load(std::memory_order_acquire)) any |= drain(*flows_, opts);
    return any;
  }
  // After the collector failed: what the worker hands over is thrown away, so that it
  // never waits for room and comes to its end.
  void discard() {
    std::vector<FlowRecord>* chunk = nullptr;
    while (full_.try_dequeue(chunk)) {
      chunk->clear();
      empty_.enqueue(chunk);
    }
    if (ready_.load(std::memory_order_acquire)) drain(*flows_, RunOptions{});
  }

 private:
  // Its stages: both for a source of its own, the flow stage alone for a share (the
  // splitter decodes).
  void build() {
    if (source_ != nullptr) {
      pipeline_.emplace(cfg_, id_);
      flows_ = &pipeline_->flow_stage();
    } else {
      share_stage_.emplace(cfg_, id_);
      flows_ = &*share_stage_;
    }
  }

  void run(const RunOptions& opts, Signals& signals) {
    Semaphore& wake = signals.wake;
    try {
      build();
    } catch (...) {  // its table does not fit: rethrown in the calling thread
      fail(wake);
      return;
    }
    Backoff backoff;
    auto wait_for_collector = [&] {
      wake.signal();
      backoff.wait();
    };
    if (opts.lossless) flows_->set_lossless(wait_for_collector);
    publish();
    ready_.store(true, std::memory_order_release);
    const auto start = Clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
    double next_publish = 0;
    // After each step: the records of the flows that ended go to the collector (never
    // dropped: the worker waits for room), and now and then the statistics. The collector
    // is woken when half a queue or ring waits for it, or when anything does while it
    // sleeps long; otherwise it comes by itself within 2 ms.
    auto hand_over = [&] {
      flows_->take_finished(finished_);
      if (!finished_.empty()) {
        std::vector<FlowRecord>* chunk = nullptr;
        while (!empty_.try_dequeue(chunk)) wait_for_collector();
        std::swap(*chunk, finished_);
        full_.enqueue(chunk);
      }
      const Backlog backlog =
          std::max(backlog_of(full_.size_approx(), kRecordChunks), flows_->backlog());
      if (backlog == Backlog::Half ||
          (backlog == Backlog::Some && signals.napping.load(std::memory_order_relaxed))) {
        wake.signal();
      }
      if (const double t = elapsed(); t >= next_publish) {
        publish();
        next_publish = t + kPublishSeconds;
      }
    };
    try {
      while (step(opts.stop, signals.halt, wake)) hand_over();
      // Every flow ends, a chunk at a time, each chunk handed over: the records' memory is
      // reused rather than grown for them all, and the collector works while the next ends.
      const EndReason forced = interrupted_ ? EndReason::Interrupted : EndReason::EndOfInput;
      bool flushed;
      do {
        flushed = flows_->flush(forced, kFlushChunk);
        hand_over();
      } while (!flushed);
    } catch (...) {  // its source (a socket error) or its stages failed: rethrown in the caller
      publish();
      fail(wake);
      return;
    }
    publish();
    finish(wake);
  }

  // One batch of the worker's input through its stages; false at the end of the input.
  bool step(const std::atomic<bool>* stop, const std::atomic<bool>& halt, Semaphore& wake) {
    if (share_ != nullptr) return take_item(wake);
    if (halt.load(std::memory_order_relaxed) ||
        (stop != nullptr && stop->load(std::memory_order_relaxed))) {
      interrupted_ = true;
      return false;
    }
    if (!source_->next_batch(batch_)) return false;
    if (batch_.size() == 0 && source_->quiet_ns() != 0) {
      pipeline_->expire(source_->quiet_ns());  // a quiet live link: the clock ends flows
    } else {
      pipeline_->process(batch_);
    }
    return true;
  }

  // The next item of the worker's share: packets the splitter decoded, then its clock (and
  // time reset); the item goes back at once, so the splitter can reuse its batch.
  bool take_item(Semaphore& wake) {
    share_->inbox.wait_dequeue(holding_);
    const WorkItem& item = *holding_;
    const std::size_t n = item.packets.size();
    for (std::size_t i = 0; i < n; ++i) pointers_[i] = &item.packets[i];
    flows_->add(std::span(pointers_.data(), n),
                [&item](std::size_t k) { return item.batch->bytes(item.index[k]); });
    flows_->expire(item.now_ns);
    if (item.flush == Flush::TimeReset) flows_->flush(EndReason::TimeReset);
    packets_ += n;
    const Flush flush = item.flush;
    give_back(wake);
    interrupted_ = flush == Flush::Interrupted;
    return !is_last(flush);
  }
  void give_back(Semaphore& wake) {
    input_ended_ = is_last(holding_->flush);
    share_->outbox.try_enqueue(holding_);  // never full: at most kItemsPerWorker items exist
    holding_ = nullptr;
    wake.signal();
  }

  // A worker that failed keeps the error for the collector, which halts the run. A share's
  // splitter waits for its items: the one in hand and the later ones go straight back until
  // the last.
  void fail(Semaphore& wake) {
    error_ = std::current_exception();
    failed_.store(true, std::memory_order_release);
    if (share_ != nullptr) {
      if (holding_ != nullptr) give_back(wake);
      while (!input_ended_) {
        share_->inbox.wait_dequeue(holding_);
        give_back(wake);
      }
    }
    finish(wake);
  }

  // The worker's statistics, for the collector's snapshots; with a source of its own, the
  // source's and its packet stage's too.
  void publish() {
    FlowStage& flows = *flows_;
    RunStats s;
    if (source_ != nullptr) s = source_stats(*source_, pipeline_->packet_stage());
    WorkerStats w{packets_, s.source.kernel_drops, flows.table().stats(), flows.selected().stats(),
                  flows.extract_stats()};
    if (source_ != nullptr) w.packets = s.outcomes[0];
    s.workers = {w};
    std::lock_guard lock(mutex_);
    published_ = std::move(s);
  }
  void finish(Semaphore& wake) {
    done_.store(true, std::memory_order_release);
    wake.signal();
  }

  PacketSource* source_;  // a source of its own, or
  Share* share_;          // its share of a split source
  FlowPipelineConfig cfg_;
  uint16_t id_;
  // Built in the worker's thread (build()).
  std::optional<FlowPipeline> pipeline_;  // a source of its own: both stages
  std::optional<FlowStage> share_stage_;  // a share: the flow stage alone
  FlowStage* flows_ = nullptr;            // the flow stage of either
  std::vector<FlowRecord> finished_;      // records on their way to a chunk
  WorkItem* holding_ = nullptr;           // the share's item being worked on
  bool input_ended_ = false;              // the share's last item came
  PacketBatch batch_;
  std::array<const DecodedPacket*, PacketBatch::kCapacity> pointers_{};
  uint64_t packets_ = 0;  // given by the splitter (a source of its own: its packet stage's)
  bool interrupted_ = false;
  std::atomic<bool> ready_{false};   // pipeline built: its rings may be drained
  std::atomic<bool> done_{false};    // the thread has nothing more to hand over
  std::atomic<bool> failed_{false};  // `error_` is set
  std::exception_ptr error_;         // why the pipeline could not be built, or failed
  std::vector<std::unique_ptr<std::vector<FlowRecord>>> chunks_;
  moodycamel::ReaderWriterQueue<std::vector<FlowRecord>*> full_;   // worker -> collector
  moodycamel::ReaderWriterQueue<std::vector<FlowRecord>*> empty_;  // collector -> worker
  std::mutex mutex_;
  RunStats published_;  // under `mutex_`
  std::thread thread_;
};

// Reads one source for several workers: decodes each batch (fragments get their datagram's
// ports here, before the hash, so they reach their flow's worker), picks each packet's
// worker by symmetric Toeplitz hash of its tuple through a 128-entry indirection table, as
// NICs do, and hands each worker its packets with the packet time. Runs in the collector's
// thread; when it needs an item or a batch back it calls `wait`, which collects.
class Splitter {
 public:
  Splitter(PacketSource& source, const FlowPipelineConfig& cfg, std::vector<Share>& shares,
           std::function<void()> wait)
      : source_(source),
        stage_(cfg),
        shares_(shares),
        wait_(std::move(wait)),
        rss_(kSymmetricRssKey),
        pool_(2 * shares.size() + 2) {
    for (std::size_t i = 0; i < kRetaSize; ++i) reta_[i] = static_cast<uint16_t>(i % shares.size());
  }

  // Reads, decodes and hands over one batch; false at the end of the input. Every worker
  // gets an item per batch, empty if none of the batch's packets were its own, so that all
  // expire flows at the batch's packet time exactly as one worker would (results must not
  // depend on W, even when time goes backwards).
  bool pump() {
    while (pool_.empty()) wait_for_returns();
    reading_ = pool_.acquire();  // held until the batch is handed over: items sent before
    PacketBatch& batch = pool_.batch(reading_);  // (a full one, a time reset) may come back
    const bool more = source_.next_batch(batch);
    if (more) {
      stage_.process(
          batch, [&](const DecodedPacket& p, uint32_t i) { dispatch(p, i); },
          [&](uint64_t before_ns) { send_to_all(before_ns, Flush::TimeReset); });
    }
    send_to_all(stage_.now_ns(), Flush::None);
    pool_.release(reading_);
    reclaim();
    return more;
  }
  // The end of the input (or of the run): every worker ends its flows and its loop.
  void finish(bool interrupted) {
    send_to_all(stage_.now_ns(), interrupted ? Flush::Interrupted : Flush::EndOfInput);
  }
  // The source's and the packet stage's counts.
  RunStats stats() const { return source_stats(source_, stage_); }

 private:
  void dispatch(const DecodedPacket& p, uint32_t index) {
    Share& s = shares_[reta_[rss_.hash_tuple(p.tuple) % kRetaSize]];
    if (s.filling == nullptr) s.filling = take(s);
    s.filling->batch = &pool_.batch(reading_);
    s.filling->slot = reading_;
    s.filling->packets.push_back(p);
    s.filling->index.push_back(static_cast<uint16_t>(index));
    if (s.filling->packets.size() == PacketBatch::kCapacity) send(s, stage_.now_ns(), Flush::None);
  }
  void send_to_all(uint64_t now_ns, Flush flush) {
    for (Share& s : shares_) {
      if (s.filling == nullptr) s.filling = take(s);
      send(s, now_ns, flush);
    }
  }
  void send(Share& s, uint64_t now_ns, Flush flush) {
    if (s.filling->batch != nullptr) pool_.retain(s.filling->slot);
    s.filling->now_ns = now_ns;
    s.filling->flush = flush;
    s.inbox.try_enqueue(s.filling);  // never full: at most kItemsPerWorker items exist
    s.filling = nullptr;
  }
  WorkItem* take(Share& s) {
    while (s.free.empty()) wait_for_returns();
    WorkItem* item = s.free.back();
    s.free.pop_back();
    return item;
  }
  // Takes back the items the workers finished and releases their batches; false if none.
  bool reclaim() {
    bool any = false;
    for (Share& s : shares_) {
      WorkItem* item = nullptr;
      while (s.outbox.try_dequeue(item)) {
        if (item->batch != nullptr) pool_.release(item->slot);
        item->batch = nullptr;
        item->packets.clear();
        item->index.clear();
        s.free.push_back(item);
        any = true;
      }
    }
    return any;
  }
  void wait_for_returns() {
    if (!reclaim()) wait_();
  }

  PacketSource& source_;
  PacketStage stage_;
  std::vector<Share>& shares_;
  std::function<void()> wait_;  // collects what the workers handed over, or sleeps a while
  ToeplitzHash rss_;
  std::array<uint16_t, kRetaSize> reta_{};
  BatchPool pool_;        // 2W+2 batches: the one being read, those the workers still read
  uint32_t reading_ = 0;  // the slot of the batch being read and dispatched
};

// ---- the collector ---------------------------------------------------------------------

// The calling thread of a run: starts the workers, collects what they hand over (records to
// the sink, selected packets and feature rows to the consumers) until all have ended, and
// with a split source runs its splitter between collections.
class Collector {
 public:
  Collector(std::vector<std::unique_ptr<Worker>>& workers, FlowSink& sink, const RunOptions& opts)
      : workers_(workers), sink_(sink), opts_(opts), pacer_(opts) {}

  // Runs the workers (and the splitter) to their end; returns the statistics, the source's
  // counts from `splitter` if there is one. Rethrows a worker's or an output's error.
  RunStats run(Splitter* splitter) {
    bool splitting = splitter != nullptr;
    bool interrupted = false;
    for (auto& w : workers_) w->start(opts_, signals_);
    for (;;) {
      if (splitting && (signals_.halt.load() || pacer_.stop())) {
        interrupted = pacer_.stop();
        splitter->finish(true);
        splitting = false;
      } else if (splitting) {
        guarded([&] {
          if (!splitter->pump()) {
            splitter->finish(false);
            splitting = false;
          }
        });
      }
      const bool all_done = collect_all();
      if (all_done && !splitting) break;
      if (pacer_.stop()) signals_.halt.store(true);
      guarded([&] { pacer_.tick([&] { return snapshot(splitter); }); });
      if (!splitting) sleep();
    }
    for (auto& w : workers_) w->join();
    if (failed_) std::rethrow_exception(failed_);
    for (auto& w : workers_) {
      if (w->error()) std::rethrow_exception(w->error());
      interrupted |= w->interrupted();
    }
    RunStats s = snapshot(splitter);
    s.interrupted = interrupted;
    return s;
  }

  // Writes what every worker handed over, feeds the consumers; true when all have ended.
  bool collect_all() {
    bool all_done = true;
    for (auto& w : workers_) {
      const bool done = w->done();  // read before its last records
      guarded([&] { busy_ |= w->collect(sink_, opts_); });
      if (failed_) w->discard();
      all_done &= done;
      if (w->failed()) signals_.halt.store(true);
    }
    return all_done;
  }
  // What the splitter does while it waits for the workers.
  void wait() {
    collect_all();
    sleep();
  }

 private:
  // Waits for a worker's signal, or a while: 2 ms after a collection that found something
  // (the bound on how long a finished row waits for the classifier under traffic), twice as
  // long after each that found nothing, up to 50 ms (a quiet link costs next to no CPU).
  // Workers signal only when needed (half a queue or ring waiting, anything waiting while
  // the collector sleeps long, a worker waiting for room, an item back for the splitter, a
  // worker's end): a wake per batch would be a context switch per batch.
  void sleep() {
    wait_us_ = busy_ ? kMinWaitUs : std::min(2 * wait_us_, kMaxWaitUs);
    busy_ = false;
    signals_.napping.store(wait_us_ > kMinWaitUs, std::memory_order_relaxed);
    signals_.wake.wait(wait_us_);
  }
  static constexpr std::int64_t kMinWaitUs = 2'000;
  static constexpr std::int64_t kMaxWaitUs = 50'000;

  RunStats snapshot(const Splitter* splitter) {
    RunStats s = splitter != nullptr ? splitter->stats() : RunStats{};
    for (auto& w : workers_) merge(s, w->published());
    s.elapsed_s = pacer_.elapsed();
    return s;
  }
  // An output or a consumer that fails here stops the workers; the run ends with its error
  // once they are joined.
  template <class Step>
  void guarded(Step&& step) {
    if (failed_) return;
    try {
      step();
    } catch (...) {
      failed_ = std::current_exception();
      signals_.halt.store(true);
    }
  }

  std::vector<std::unique_ptr<Worker>>& workers_;
  FlowSink& sink_;
  const RunOptions& opts_;
  Pacer pacer_;
  Signals signals_;  // halt: *opts.stop, a worker that failed, or a failed output
  std::exception_ptr failed_;
  bool busy_ = false;  // the last collections found something
  std::int64_t wait_us_ = kMinWaitUs;
};

// The one run: `own` sources, each read by a worker of its own, or one source split over
// `split_workers` workers. Closes the sink with the statistics.
RunStats run(const std::vector<PacketSource*>& own, PacketSource* split, unsigned split_workers,
             const FlowPipelineConfig& config, FlowSink& sink, const RunOptions& opts) {
  FlowPipelineConfig cfg = config;
  cfg.copy_selected = static_cast<bool>(opts.on_selected);
  const std::size_t n = split != nullptr ? split_workers : own.size();
  const FlowPipelineConfig worker_cfg = per_worker(cfg, n);
  std::vector<Share> shares(split != nullptr ? n : 0);
  std::vector<std::unique_ptr<Worker>> workers;
  for (std::size_t w = 0; w < n; ++w) {
    workers.push_back(std::make_unique<Worker>(split != nullptr ? nullptr : own[w],
                                               split != nullptr ? &shares[w] : nullptr, worker_cfg,
                                               static_cast<uint16_t>(w)));
  }
  Collector collector(workers, sink, opts);
  std::optional<Splitter> splitter;
  if (split != nullptr) splitter.emplace(*split, cfg, shares, [&collector] { collector.wait(); });
  RunStats s = collector.run(splitter ? &*splitter : nullptr);
  // Unmapped (files) while the sink's thread may still write.
  for (PacketSource* source : own) source->release();
  if (split != nullptr) split->release();
  sink.summary(format_stats_json(s));
  sink.close();
  return s;
}

}  // namespace

RunStats run_flows(PacketSource& source, const FlowPipelineConfig& cfg, FlowSink& sink,
                   const RunOptions& opts) {
  if (opts.workers <= 1) return run({&source}, nullptr, 0, cfg, sink, opts);
  return run({}, &source, opts.workers, cfg, sink, opts);
}

RunStats run_flows(std::vector<std::unique_ptr<PacketSource>>& sources,
                   const FlowPipelineConfig& cfg, FlowSink& sink, const RunOptions& opts) {
  std::vector<PacketSource*> own;
  for (auto& s : sources) own.push_back(s.get());
  return run(own, nullptr, 0, cfg, sink, opts);
}

}  // namespace etcpipe
