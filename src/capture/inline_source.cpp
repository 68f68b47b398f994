#include "capture/inline_source.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <pcap/dlt.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "capture/afpacket_socket.hpp"
#include "capture/user_filter.hpp"
#include "common/time.hpp"

namespace etcpipe {
namespace {

constexpr int kPollMs = 100;
constexpr int kStopPollMs = 20;
constexpr uint32_t kBatchesPerStatsRead = 64;
constexpr int kBatchFull = -ENOBUFS;  // the callback's "stop here": the batch is full
// Copies are stamped when their frame arrived: after a quiet poll, every frame older than
// this was read (the ring is read out before each poll).
constexpr uint64_t kQuietMarginNs = 10'000'000;

class InlineSource final : public PacketSource {
 public:
  InlineSource(LiveLimits limits, const std::string& bpf, XdpProgram& xdp)
      : limits_(std::move(limits)), filter_(bpf, DLT_EN10MB), xdp_(xdp) {
    ring_ = ring_buffer__new(xdp.copy_ring(), &InlineSource::on_copy, this, nullptr);
    if (ring_ == nullptr) {
      throw std::runtime_error(std::string("inline: cannot map the copy ring: ") +
                               std::strerror(errno));
    }
  }
  ~InlineSource() override { ring_buffer__free(ring_); }

  bool next_batch(PacketBatch& batch) override {
    batch.clear();
    batch.dlt = DLT_EN10MB;
    quiet_ns_ = 0;
    if (ended_) return false;
    batch_ = &batch;
    auto read = [&] {
      mono_to_real_ = realtime_ns() - monotonic_ns();
      const int rc = batch.full() ? 0 : ring_buffer__consume(ring_);  // full: by the wait's
      if (rc < 0 && rc != kBatchFull) {
        throw std::runtime_error(std::string("inline: reading the copy ring: ") +
                                 std::strerror(-rc));
      }
    };
    // The copies the wait brings are taken at once (with the offset of the clocks before
    // it), and delivered by the next read.
    auto wait = [&](bool stopping) {
      read_kernel_stats();
      const int n = ring_buffer__poll(ring_, stopping ? kStopPollMs : kPollMs);
      if (n < 0 && n != kBatchFull && n != -EINTR) {
        throw std::runtime_error(std::string("inline: waiting on the copy ring: ") +
                                 std::strerror(-n));
      }
      return n != 0;
    };
    const LiveLimits::Next got = limits_.next(batch, stats_, read, wait);
    if (got == LiveLimits::Next::End) return end();
    if (got == LiveLimits::Next::Quiet) {
      quiet_ns_ = realtime_ns() - kQuietMarginNs;
    } else if (++batches_since_stats_ == kBatchesPerStatsRead) {  // a batch delivered
      read_kernel_stats();
    }
    return true;
  }
  const SourceStats& stats() const override { return stats_; }
  uint64_t quiet_ns() const override { return quiet_ns_; }

 private:
  static int on_copy(void* self, void* data, std::size_t size) {
    return static_cast<InlineSource*>(self)->add(static_cast<const uint8_t*>(data), size);
  }
  // One copy into the batch (taken from the ring whatever is returned).
  int add(const uint8_t* data, std::size_t size) {
    etcpipe_copy c{};
    if (size < sizeof c) return 0;
    std::memcpy(&c, data, sizeof c);
    const uint32_t cap = std::min<uint32_t>(c.cap_len, uint32_t(size - sizeof c));
    const uint8_t* frame = data + sizeof c;
    stats_.bytes += c.wire_len;
    if (!filter_.match(frame, cap, c.wire_len)) {
      ++stats_.filtered;
      ++stats_.packets;
    } else {
      batch_->push(c.ts_ns + mono_to_real_, frame, cap, c.wire_len);
    }
    return batch_->full() ? kBatchFull : 0;
  }
  bool end() {
    ended_ = true;
    read_kernel_stats();
    return false;
  }
  void read_kernel_stats() {
    batches_since_stats_ = 0;
    stats_.kernel_drops = xdp_.stats().copy_failed;
  }

  LiveLimits limits_;
  UserFilter filter_;
  XdpProgram& xdp_;
  ring_buffer* ring_ = nullptr;
  PacketBatch* batch_ = nullptr;
  uint64_t mono_to_real_ = 0;
  uint64_t quiet_ns_ = 0;
  bool ended_ = false;
  uint32_t batches_since_stats_ = 0;
  SourceStats stats_;
};

}  // namespace

std::unique_ptr<PacketSource> open_inline_source(const LiveCaptureConfig& cfg,
                                                 const std::string& other, XdpProgram& xdp) {
  if (cfg.interfaces.size() != 1) {
    throw std::runtime_error("--inline-to: give one interface with -i (the other port)");
  }
  const std::string& a = cfg.interfaces[0];
  if (a == other) throw std::runtime_error("--inline-to " + other + ": the same port as -i");
  unsigned ifindex[2];
  const std::string ports[2] = {a, other};
  for (int i = 0; i < 2; ++i) {
    ifindex[i] =
        ethernet_interface(ports[i], "inline mode joins Ethernet ports only", "inline mode on");
  }
  for (int i = 0; i < 2; ++i) {
    const uint32_t from = ifindex[i], to = ifindex[1 - i];
    if (bpf_map_update_elem(xdp.port_map(), &from, &to, BPF_ANY) != 0) {
      packet_socket_error(ports[i], "cannot join it to the other port (devmap)", errno,
                          "inline mode on");
    }
  }
  auto source = std::make_unique<InlineSource>(
      LiveLimits(cfg.stop, cfg.duration, LiveLimits::budget(cfg.max_packets)), cfg.bpf, xdp);
  for (int i = 0; i < 2; ++i) {
    const XdpProgram::Link& link = xdp.attach(ports[i], ifindex[i]);
    if (cfg.note) note_xdp_mode(link, cfg);
  }
  return source;
}

}  // namespace etcpipe
