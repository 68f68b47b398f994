#include "pipeline/run.hpp"

#include <readerwriterqueue/readerwriterqueue.h>

#include <chrono>
#include <memory>
#include <thread>

#include "pipeline/toeplitz.hpp"

namespace etcpipe {
namespace {

using Clock = std::chrono::steady_clock;

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

void add_table_stats(FlowTableStats& total, const FlowTableStats& w) {
  total.created += w.created;
  for (std::size_t r = 0; r < kEndReasonCount; ++r) total.ended[r] += w.ended[r];
  total.active += w.active;
  total.peak_active += w.peak_active;
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

void drain(std::vector<FlowRecord>& done, FlowSink& sink) {
  if (!done.empty()) sink.write(done);
  done.clear();
}

RunStats run_single(PacketSource& source, const FlowPipelineConfig& cfg, FlowSink& sink,
                    const RunOptions& opts) {
  Pacer pacer(opts);
  FlowPipeline pipeline(cfg);
  auto snapshot = [&] {
    RunStats s = base_stats(source, pipeline.packet_stage(), pacer.elapsed());
    s.flows = pipeline.flow_stats();
    s.workers = {WorkerStats{s.outcomes[0], s.flows}};
    return s;
  };
  PacketBatch batch;
  while (!pacer.stop() && source.next_batch(batch)) {
    pipeline.process(batch);
    drain(pipeline.finished(), sink);
    pacer.tick(snapshot);
  }
  pipeline.flush();
  drain(pipeline.finished(), sink);
  sink.close();
  return snapshot();
}

// ---- several workers -------------------------------------------------------------------

constexpr std::size_t kRetaSize = 128;  // RSS indirection table entries, as on most NICs
constexpr std::size_t kItemsPerWorker = 16;

struct WorkItem {
  std::vector<DecodedPacket> packets;  // capacity PacketBatch::kCapacity, never exceeded
  std::vector<FlowRecord> finished;    // flows that ended while the worker ran this item
  uint64_t now_ns = 0;                 // the reader's packet time when it sent the item
  bool last = false;                   // end of input: flush the table
  WorkerStats stats;                   // the worker's counters when it finished the item
};

// One worker: its flow table lives (and is built) in its own thread.
struct alignas(64) Worker {
  explicit Worker(const FlowTableConfig& cfg)
      : table_cfg(cfg), inbox(kItemsPerWorker), outbox(kItemsPerWorker) {}

  void run() {
    FlowTable table(table_cfg);
    uint64_t packets = 0;
    for (;;) {
      WorkItem* item = nullptr;
      while (!inbox.try_dequeue(item)) wait();
      for (const DecodedPacket& p : item->packets) table.add(p);
      table.expire(item->now_ns);
      if (item->last) table.flush();
      item->finished.swap(table.finished());
      packets += item->packets.size();
      item->stats = {packets, table.stats()};
      const bool last = item->last;
      outbox.try_enqueue(item);  // never full: at most kItemsPerWorker items exist
      if (last) return;
    }
  }
  static void wait() { std::this_thread::yield(); }

  FlowTableConfig table_cfg;
  moodycamel::ReaderWriterQueue<WorkItem*> inbox;   // reader -> worker
  moodycamel::ReaderWriterQueue<WorkItem*> outbox;  // worker -> reader
  std::vector<std::unique_ptr<WorkItem>> items;     // owned here, used by both sides
  std::vector<WorkItem*> free;                      // reader's
  WorkItem* filling = nullptr;                      // reader's
  WorkerStats stats;                                // reader's copy, from returned items
  std::thread thread;
};

class Dispatcher {
 public:
  Dispatcher(const FlowPipelineConfig& cfg, unsigned n, FlowSink& sink)
      : rss_(kSymmetricRssKey), sink_(sink) {
    FlowTableConfig per_worker = cfg.table;
    per_worker.max_flows = std::max(1u, cfg.table.max_flows / n);
    for (unsigned w = 0; w < n; ++w) {
      auto& wk = *workers_.emplace_back(std::make_unique<Worker>(per_worker));
      for (std::size_t i = 0; i < kItemsPerWorker; ++i) {
        auto& item = *wk.items.emplace_back(std::make_unique<WorkItem>());
        item.packets.reserve(PacketBatch::kCapacity);
        item.finished.reserve(256);
        wk.free.push_back(&item);
      }
    }
    for (std::size_t i = 0; i < kRetaSize; ++i) reta_[i] = static_cast<uint16_t>(i % n);
    for (auto& w : workers_) w->thread = std::thread([&wk = *w] { wk.run(); });
  }

  void dispatch(const DecodedPacket& p, uint64_t now_ns) {
    Worker& w = *workers_[reta_[rss_.hash_tuple(p.tuple) % kRetaSize]];
    if (w.filling == nullptr) w.filling = take(w);
    w.filling->packets.push_back(p);
    if (w.filling->packets.size() == PacketBatch::kCapacity) send(w, now_ns, false);
  }

  // Sends every partly filled item, and collects what came back.
  void flush_items(uint64_t now_ns) {
    for (auto& w : workers_) {
      if (w->filling != nullptr) send(*w, now_ns, false);
    }
    for (auto& w : workers_) collect(*w);
  }

  // End of input: every worker flushes its table; waits for all and joins them.
  void finish(uint64_t now_ns) {
    for (auto& w : workers_) {
      if (w->filling == nullptr) w->filling = take(*w);
      send(*w, now_ns, true);
    }
    for (auto& w : workers_) {
      while (w->free.size() < kItemsPerWorker) {
        if (!collect(*w)) Worker::wait();
      }
      w->thread.join();
    }
  }

  void add_stats(RunStats& s) const {
    for (const auto& w : workers_) {
      s.workers.push_back(w->stats);
      add_table_stats(s.flows, w->stats.flows);
    }
  }

 private:
  WorkItem* take(Worker& w) {
    while (w.free.empty()) {
      if (!collect(w)) Worker::wait();
    }
    WorkItem* item = w.free.back();
    w.free.pop_back();
    return item;
  }
  void send(Worker& w, uint64_t now_ns, bool last) {
    w.filling->now_ns = now_ns;
    w.filling->last = last;
    w.inbox.try_enqueue(w.filling);  // never full: at most kItemsPerWorker items exist
    w.filling = nullptr;
  }
  // Takes back the items a worker finished; writes their records. False if none.
  bool collect(Worker& w) {
    bool any = false;
    WorkItem* item = nullptr;
    while (w.outbox.try_dequeue(item)) {
      drain(item->finished, sink_);
      item->packets.clear();
      w.stats = item->stats;
      w.free.push_back(item);
      any = true;
    }
    return any;
  }

  ToeplitzHash rss_;
  std::array<uint16_t, kRetaSize> reta_{};
  std::vector<std::unique_ptr<Worker>> workers_;
  FlowSink& sink_;
};

RunStats run_parallel(PacketSource& source, const FlowPipelineConfig& cfg, FlowSink& sink,
                      const RunOptions& opts) {
  Pacer pacer(opts);
  PacketStage stage(cfg);
  Dispatcher dispatcher(cfg, opts.workers, sink);
  auto snapshot = [&] {
    RunStats s = base_stats(source, stage, pacer.elapsed());
    dispatcher.add_stats(s);
    return s;
  };
  PacketBatch batch;
  while (!pacer.stop() && source.next_batch(batch)) {
    stage.process(batch, [&](const DecodedPacket& p) { dispatcher.dispatch(p, stage.now_ns()); });
    dispatcher.flush_items(stage.now_ns());
    pacer.tick(snapshot);
  }
  dispatcher.finish(stage.now_ns());
  sink.close();
  return snapshot();
}

}  // namespace

RunStats run_flows(PacketSource& source, const FlowPipelineConfig& cfg, FlowSink& sink,
                   const RunOptions& opts) {
  return opts.workers <= 1 ? run_single(source, cfg, sink, opts)
                           : run_parallel(source, cfg, sink, opts);
}

}  // namespace etcpipe
