// What every live source shares: its configuration, and when the capture ends by itself: a
// signal (the stop flag), --duration, or -c (a packet budget shared by every worker's
// source; each source holds a LiveLimits, read in its own thread).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "capture/source.hpp"

namespace etcpipe {

struct LiveCaptureConfig {
  std::vector<std::string> interfaces;      // network interfaces, or DPDK devices
  std::string bpf;                          // tcpdump syntax; empty: every packet
  uint32_t ring_mb = 64;                    // per socket: afpacket ring, afxdp UMEM (MiB)
  uint64_t max_packets = 0;                 // stop after this many packets in all (0: no limit)
  std::chrono::nanoseconds duration{0};     // stop after this long (0: no limit)
  const std::atomic<bool>* stop = nullptr;  // set asynchronously (SIGINT): end of input
  std::string dpdk_eal;                     // extra EAL arguments (DPDK)
  // Where etcpipe's XDP program runs (AF_XDP): in the driver, in the kernel's generic
  // path (any driver, a copy per frame), or the driver's where it has one.
  enum class XdpMode : uint8_t { Auto, Native, Generic } xdp_mode = XdpMode::Auto;
  // afpacket, enforcing: etcpipe's socket filter (XdpProgram::socket_filter), attached to
  // every socket instead of the expression, which then runs in user space. It keeps out the
  // packets that leave: user space sees those XDP sees and acts on, where they arrive.
  int socket_filter_fd = -1;
  // The worker count was not asked for: fewer workers where the device has fewer queues
  // (AF_XDP, DPDK) rather than an error.
  bool fit_workers = false;
  // Told what the user should know about how the capture runs (a fallback mode), if set.
  std::function<void(const std::string&)> note;
};

// Throws std::runtime_error if an interface is given twice (each packet would be read
// twice).
inline void check_distinct(const std::vector<std::string>& interfaces) {
  for (std::size_t i = 0; i < interfaces.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (interfaces[i] == interfaces[j]) {
        throw std::runtime_error("live capture: " + interfaces[i] + " is given twice");
      }
    }
  }
}

class LiveLimits {
 public:
  LiveLimits(const std::atomic<bool>* stop, std::chrono::nanoseconds duration,
             std::shared_ptr<std::atomic<int64_t>> budget)
      : stop_(stop), budget_(std::move(budget)) {
    if (duration.count() > 0) {
      deadline_ = std::chrono::steady_clock::now() +
                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(duration);
    }
  }
  // A budget of `packets` for all the sources that share it (0: none).
  static std::shared_ptr<std::atomic<int64_t>> budget(uint64_t packets) {
    if (packets == 0) return nullptr;
    return std::make_shared<std::atomic<int64_t>>(static_cast<int64_t>(packets));
  }

  // A signal or --duration: the input ends once what the kernel already holds is read.
  bool stopping() const {
    return (stop_ != nullptr && stop_->load(std::memory_order_relaxed)) ||
           (deadline_ && std::chrono::steady_clock::now() >= *deadline_);
  }
  // -c: the packets asked for were all read.
  bool spent() const { return budget_ && budget_->load(std::memory_order_relaxed) <= 0; }
  // Takes the batch's packets from the budget (those beyond it leave the batch, and its
  // byte count in `stats`) and counts the rest as read.
  void deliver(PacketBatch& batch, SourceStats& stats) {
    if (budget_) {
      const auto n = static_cast<int64_t>(batch.size());
      const int64_t left = budget_->fetch_sub(n, std::memory_order_relaxed);
      if (left < n) {
        const auto keep = static_cast<uint32_t>(std::max<int64_t>(left, 0));
        for (uint32_t i = keep; i < batch.size(); ++i) stats.bytes -= batch.ref(i).wire_len;
        batch.keep_first(keep);
      }
    }
    stats.packets += batch.size();
  }

  // What a live source's next_batch found.
  enum class Next : uint8_t {
    Batch,  // packets (or filtered ones only), delivered
    Quiet,  // nothing for a poll's time: flows may end by the clock
    End,    // the input ended: -c spent, or stopping and nothing more came
  };
  // The loop of a poll-driven live source's next_batch: `read()` takes what is ready into
  // the batch; with nothing ready, `wait(stopping)` waits for more (stopping: one short
  // wait for packets on their way) and says whether any came. A signal or --duration ends
  // the input once what the kernel holds is read.
  template <class Read, class Wait>
  Next next(PacketBatch& batch, SourceStats& stats, Read&& read, Wait&& wait) {
    bool last_look = false;
    const uint64_t filtered = stats.filtered;  // a wait may filter too (inline mode)
    for (;;) {
      if (spent()) return Next::End;
      const bool stopping = this->stopping();
      read();
      if (batch.size() != 0 || stats.filtered != filtered) {
        deliver(batch, stats);
        return Next::Batch;
      }
      if (stopping && last_look) return Next::End;
      last_look = stopping;
      if (!wait(stopping) && !stopping) return Next::Quiet;
    }
  }

 private:
  const std::atomic<bool>* stop_;
  std::shared_ptr<std::atomic<int64_t>> budget_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
};

}  // namespace etcpipe
