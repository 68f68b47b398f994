#include "capture/afxdp_source.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <pcap/dlt.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xdp/xsk.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <stdexcept>

#include "capture/afpacket_socket.hpp"
#include "capture/user_filter.hpp"
#include "capture/xdp_program.hpp"
#include "common/time.hpp"

namespace etcpipe {
namespace {

constexpr uint32_t kFrameSize = XSK_UMEM__DEFAULT_FRAME_SIZE;  // 4 KiB: a page per frame
constexpr int kPollMs = 100;
constexpr int kStopPollMs = 20;  // stopping: how long frames still on their way are awaited
constexpr uint32_t kBatchesPerStatsRead = 64;  // kernel counters read this often under load
// Frames are stamped when read: after a quiet poll, every packet older than this was read.
constexpr uint64_t kQuietMarginNs = 10'000'000;

[[noreturn]] void fail(const std::string& iface, const std::string& what, int err = 0) {
  packet_socket_error(iface, what, err);
}

unsigned rx_queues(const std::string& iface) {
  unsigned n = 0;
  std::error_code ec;
  for (const auto& e :
       std::filesystem::directory_iterator("/sys/class/net/" + iface + "/queues", ec)) {
    n += e.path().filename().string().rfind("rx-", 0) == 0 ? 1 : 0;
  }
  return n;
}

// One AF_XDP socket with its own UMEM: the frames of one queue of one interface.
struct Xsk {
  ~Xsk() {
    if (socket != nullptr) xsk_socket__delete(socket);
    if (umem != nullptr) xsk_umem__delete(umem);
    if (area != nullptr) munmap(area, area_len);
  }
  std::string iface;
  xsk_umem* umem = nullptr;
  xsk_socket* socket = nullptr;
  xsk_ring_prod fill{};
  xsk_ring_cons comp{};
  xsk_ring_cons rx{};
  void* area = nullptr;
  std::size_t area_len = 0;
  std::vector<uint64_t> lent;  // frames lent to the last batch, back to the fill ring next
};

std::unique_ptr<Xsk> open_xsk(const std::string& iface, int xsk_map, uint32_t queue,
                              uint32_t frames) {
  auto x = std::make_unique<Xsk>();
  x->iface = iface;
  x->area_len = std::size_t(frames) * kFrameSize;
  x->area = mmap(nullptr, x->area_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (x->area == MAP_FAILED) {
    x->area = nullptr;
    fail(iface, "no memory for a UMEM of " + std::to_string(x->area_len >> 20) + " MiB", errno);
  }
  xsk_umem_config ucfg{};
  ucfg.fill_size = frames;
  ucfg.comp_size = XSK_RING_CONS__DEFAULT_NUM_DESCS;
  ucfg.frame_size = kFrameSize;
  ucfg.frame_headroom = 0;
  if (int rc = xsk_umem__create(&x->umem, x->area, x->area_len, &x->fill, &x->comp, &ucfg);
      rc != 0) {
    fail(iface, "cannot register the UMEM", -rc);
  }
  xsk_socket_config scfg{};
  scfg.rx_size = frames / 2;
  scfg.tx_size = XSK_RING_PROD__DEFAULT_NUM_DESCS;
  scfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;  // the program is ours
  scfg.bind_flags = XDP_USE_NEED_WAKEUP;  // zero-copy where the driver can, copy mode else
  if (int rc =
          xsk_socket__create(&x->socket, iface.c_str(), queue, x->umem, &x->rx, nullptr, &scfg);
      rc != 0) {
    fail(iface, "cannot bind an AF_XDP socket to queue " + std::to_string(queue), -rc);
  }
  const int fd = xsk_socket__fd(x->socket);
  if (bpf_map_update_elem(xsk_map, &queue, &fd, BPF_ANY) != 0) {
    fail(iface, "cannot register the AF_XDP socket with the XDP program", errno);
  }
  // Every frame goes to the fill ring: the kernel writes packets into them.
  uint32_t idx = 0;
  if (xsk_ring_prod__reserve(&x->fill, frames, &idx) != frames) {
    fail(iface, "cannot fill the UMEM's fill ring");
  }
  for (uint32_t i = 0; i < frames; ++i) {
    *xsk_ring_prod__fill_addr(&x->fill, idx + i) = uint64_t(i) * kFrameSize;
  }
  xsk_ring_prod__submit(&x->fill, frames);
  x->lent.reserve(PacketBatch::kCapacity);
  return x;
}

class AfXdpSource final : public PacketSource {
 public:
  AfXdpSource(LiveLimits limits, const std::string& bpf)
      : limits_(std::move(limits)), filter_(bpf, DLT_EN10MB) {}
  ~AfXdpSource() override { release(); }

  void add(std::unique_ptr<Xsk> x) {
    fds_.push_back(pollfd{xsk_socket__fd(x->socket), POLLIN, 0});
    xsks_.push_back(std::move(x));
  }

  bool next_batch(PacketBatch& batch) override {
    batch.clear();
    release();
    quiet_ns_ = 0;
    batch.dlt = DLT_EN10MB;
    if (ended_) return false;
    auto read = [&] {
      for (std::size_t k = 0; k < xsks_.size() && !batch.full(); ++k) {
        fill(*xsks_[(next_ + k) % xsks_.size()], batch);
      }
      next_ = (next_ + 1) % xsks_.size();
    };
    auto wait = [&](bool stopping) {
      read_kernel_stats();
      for (auto& x : xsks_) kick(*x);
      return poll(fds_.data(), fds_.size(), stopping ? kStopPollMs : kPollMs) > 0;
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
  // The frames lent to the last batch go back to their fill rings.
  void release() override {
    for (auto& x : xsks_) {
      const auto n = static_cast<uint32_t>(x->lent.size());
      if (n == 0) continue;
      uint32_t idx = 0;
      // The fill ring holds every frame of the UMEM: there is always room for these.
      xsk_ring_prod__reserve(&x->fill, n, &idx);
      for (uint32_t i = 0; i < n; ++i) *xsk_ring_prod__fill_addr(&x->fill, idx + i) = x->lent[i];
      xsk_ring_prod__submit(&x->fill, n);
      x->lent.clear();
      kick(*x);
    }
  }

 private:
  bool end() {
    ended_ = true;
    read_kernel_stats();
    return false;
  }

  // The kernel needs a wakeup to go on filling (copy mode, or a fill ring that ran dry).
  static void kick(Xsk& x) {
    if (xsk_ring_prod__needs_wakeup(&x.fill)) {
      recvfrom(xsk_socket__fd(x.socket), nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
    }
  }

  void fill(Xsk& x, PacketBatch& batch) {
    uint32_t idx = 0;
    const uint32_t room = PacketBatch::kCapacity - batch.size();
    const uint32_t n = xsk_ring_cons__peek(&x.rx, room, &idx);
    if (n == 0) return;
    const uint64_t now = realtime_ns();
    for (uint32_t i = 0; i < n; ++i) {
      const xdp_desc* d = xsk_ring_cons__rx_desc(&x.rx, idx + i);
      const auto* data = static_cast<const uint8_t*>(xsk_umem__get_data(x.area, d->addr));
      x.lent.push_back(xsk_umem__extract_addr(d->addr));
      stats_.bytes += d->len;
      if (!filter_.match(data, d->len, d->len)) {
        ++stats_.filtered;
        ++stats_.packets;
        continue;
      }
      batch.lend(PacketRef{now, data, d->len, d->len});
    }
    xsk_ring_cons__release(&x.rx, n);  // the descriptors; the frames stay lent
  }

  // XDP_STATISTICS counts since the socket opened: the totals of this worker's sockets.
  void read_kernel_stats() {
    batches_since_stats_ = 0;
    uint64_t drops = 0, empty = 0;
    for (const auto& x : xsks_) {
      xdp_statistics st{};
      socklen_t len = sizeof st;
      if (getsockopt(xsk_socket__fd(x->socket), SOL_XDP, XDP_STATISTICS, &st, &len) == 0) {
        drops += st.rx_dropped + st.rx_ring_full;
        empty += st.rx_fill_ring_empty_descs;
      }
    }
    stats_.kernel_drops = drops;
    stats_.ring_freezes = empty;
  }

  std::vector<std::unique_ptr<Xsk>> xsks_;
  std::vector<pollfd> fds_;
  std::size_t next_ = 0;
  LiveLimits limits_;
  UserFilter filter_;
  uint64_t quiet_ns_ = 0;
  bool ended_ = false;
  uint32_t batches_since_stats_ = 0;
  SourceStats stats_;
};

}  // namespace

std::vector<std::unique_ptr<PacketSource>> open_afxdp_sources(const LiveCaptureConfig& cfg,
                                                              unsigned workers, XdpProgram& xdp) {
  if (cfg.interfaces.empty()) throw std::runtime_error("live capture: no interface given");
  check_distinct(cfg.interfaces);
  workers = std::max(1u, workers);
  // UMEM frames per socket: --ring-mb of 4 KiB frames, a power of two (the rings' sizes).
  const uint32_t frames = std::bit_floor(std::max<uint32_t>(
      64, static_cast<uint32_t>(std::min<uint64_t>(uint64_t(cfg.ring_mb) * 256, 1u << 20))));
  std::vector<unsigned> queues;  // of each interface
  for (const std::string& iface : cfg.interfaces) {
    const unsigned ifindex =
        ethernet_interface(iface, "AF_XDP reads Ethernet interfaces only: use afpacket");
    queues.push_back(std::max(1u, rx_queues(iface)));
    if (cfg.fit_workers) workers = std::min(workers, queues.back());
    if (queues.back() < workers) {
      fail(iface, "has " + std::to_string(queues.back()) +
                      " receive queues, fewer than --workers " + std::to_string(workers) +
                      " (ethtool -L " + iface + " combined " + std::to_string(workers) + ")");
    }
    const XdpProgram::Link& link = xdp.attach(iface, ifindex);
    if (cfg.note) {
      cfg.note(iface +
               ": every frame without a bypass or drop verdict goes to etcpipe, none to "
               "the host's stack, while it runs");
      note_xdp_mode(link, cfg);
    }
  }
  const auto budget = LiveLimits::budget(cfg.max_packets);
  std::vector<std::unique_ptr<AfXdpSource>> sources;
  for (unsigned w = 0; w < workers; ++w) {
    sources.push_back(
        std::make_unique<AfXdpSource>(LiveLimits(cfg.stop, cfg.duration, budget), cfg.bpf));
  }
  // Every queue has a socket (a queue without one would pass its frames to the stack,
  // unseen): queue q to worker q mod W.
  for (std::size_t i = 0; i < cfg.interfaces.size(); ++i) {
    for (unsigned q = 0; q < queues[i]; ++q)
      sources[q % workers]->add(open_xsk(cfg.interfaces[i], xdp.xsk_map(), q, frames));
  }
  return {std::make_move_iterator(sources.begin()), std::make_move_iterator(sources.end())};
}

}  // namespace etcpipe
