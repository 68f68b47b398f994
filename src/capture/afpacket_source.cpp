#include "capture/afpacket_source.hpp"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "capture/afpacket_socket.hpp"
#include "capture/bpf.hpp"
#include "capture/user_filter.hpp"
#include "common/time.hpp"

namespace etcpipe {
namespace {

constexpr uint32_t kBlockSize = 1u << 20;  // a 64 KiB frame (the largest MTU) fits many times
constexpr uint32_t kFrameSize = 2048;      // TPACKET_V3 ignores it, but checks the arithmetic
constexpr uint32_t kBlockTimeoutMs = 10;   // a partly filled block is handed over after this
constexpr int kPollMs = 100;               // a quiet link still ends flows about this often
// Packets become visible when their block is handed over, up to kBlockTimeoutMs after their
// timestamp: after a quiet poll, every packet older than this margin has been read.
constexpr uint64_t kQuietMarginNs = 100'000'000;
constexpr uint32_t kBlocksPerStatsRead = 64;  // kernel counters read this often under load

[[noreturn]] void fail(const std::string& iface, const std::string& what, int err = 0) {
  packet_socket_error(iface, what, err);
}

void attach_filter(int fd, const std::string& iface, const std::string& expression, int dlt) {
  bpf_program prog{};
  std::string error;
  if (!compile_bpf(expression, dlt, prog, error)) {
    throw std::runtime_error("bad filter expression '" + expression + "': " + error);
  }
  sock_fprog fprog{static_cast<unsigned short>(prog.bf_len),
                   reinterpret_cast<sock_filter*>(prog.bf_insns)};
  const int rc = setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog);
  const int err = errno;
  pcap_freecode(&prog);
  if (rc != 0) fail(iface, "the kernel refused the filter", err);
}

}  // namespace

struct AfPacketSource::Ring {
  ~Ring() {
    if (map != nullptr) munmap(map, map_len);
    if (fd >= 0) close(fd);
  }
  tpacket_block_desc* desc(uint32_t i) const {
    return reinterpret_cast<tpacket_block_desc*>(map + std::size_t(i) * kBlockSize);
  }

  std::string iface;
  int fd = -1;
  int dlt = DLT_EN10MB;
  uint8_t* map = nullptr;
  std::size_t map_len = 0;
  uint32_t blocks = 0;
  uint32_t block = 0;                     // the next block to read, or the one being read
  uint32_t left = 0;                      // packets of `block` not read yet (0: not opened)
  const uint8_t* next = nullptr;          // the next packet's header in `block`
  std::vector<tpacket_block_desc*> read;  // blocks read out, lent to the last batch
  std::unique_ptr<UserFilter> filter;     // the expression, when enforcing (see open_ring)
};

namespace {

constexpr int kNewFanout = -1;  // the kernel picks a free group id (which may be 0)

// One socket on `iface` with its ring mapped, filter attached, bound. `fanout`: the group to
// join, or kNewFanout to create one, whose id is written back.
std::unique_ptr<AfPacketSource::Ring> open_ring(const std::string& iface,
                                                const LiveCaptureConfig& cfg, unsigned workers,
                                                int& fanout) {
  auto r = std::make_unique<AfPacketSource::Ring>();
  r->iface = iface;
  // The socket receives nothing until bound, after its ring and filter are set.
  const PacketSocket sock = open_packet_socket(iface);
  r->fd = sock.fd;
  const unsigned ifindex = sock.ifindex;
  r->dlt = interface_link_type(r->fd, iface);

  // Packets are stamped once, as they enter the stack (net_enable_timestamp), rather than
  // by each socket as it copies them: every capture on the host sees the same times.
  const int on = 1;
  if (setsockopt(r->fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0) {
    fail(iface, "cannot enable timestamps", errno);
  }
  const int version = TPACKET_V3;
  if (setsockopt(r->fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) != 0) {
    fail(iface, "TPACKET_V3 not supported", errno);
  }
  // --ring-mb is the interface's: its workers share it.
  r->blocks = std::max<uint32_t>(2, cfg.ring_mb * ((1u << 20) / kBlockSize) / workers);
  tpacket_req3 req{};
  req.tp_block_size = kBlockSize;
  req.tp_block_nr = r->blocks;
  req.tp_frame_size = kFrameSize;
  req.tp_frame_nr = (kBlockSize / kFrameSize) * r->blocks;
  req.tp_retire_blk_tov = kBlockTimeoutMs;
  if (setsockopt(r->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0) {
    fail(iface,
         "the kernel refused a ring of " + std::to_string(r->blocks) + " MiB (lower --ring-mb)",
         errno);
  }
  r->map_len = std::size_t(kBlockSize) * r->blocks;
  void* map = mmap(nullptr, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
  if (map == MAP_FAILED) fail(iface, "cannot map the ring", errno);
  r->map = static_cast<uint8_t*>(map);
  r->read.reserve(r->blocks);
  // Until the socket is in its fanout group, a filter that takes nothing: bound alone, it
  // would get a copy of every packet the group also gets.
  sock_filter none{BPF_RET | BPF_K, 0, 0, 0};
  sock_fprog nothing{1, &none};
  if (setsockopt(r->fd, SOL_SOCKET, SO_ATTACH_FILTER, &nothing, sizeof nothing) != 0) {
    fail(iface, "the kernel refused a filter", errno);
  }

  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(ETH_P_ALL);
  addr.sll_ifindex = static_cast<int>(ifindex);
  if (bind(r->fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    fail(iface, "cannot bind to the interface", errno);
  }
  {
    // The kernel's flow hash is symmetric; defrag: an IPv4 datagram's fragments are
    // reassembled before the hash, so that they reach their flow's worker. One worker is a
    // group of one, so that fragments count the same whatever the number of workers.
    constexpr int kMode = PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG;
    int arg =
        fanout == kNewFanout ? (kMode | PACKET_FANOUT_FLAG_UNIQUEID) << 16 : (kMode << 16) | fanout;
    if (setsockopt(r->fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) != 0) {
      fail(iface, "cannot join a PACKET_FANOUT group", errno);
    }
    if (fanout == kNewFanout) {
      socklen_t len = sizeof arg;
      if (getsockopt(r->fd, SOL_PACKET, PACKET_FANOUT, &arg, &len) != 0) {
        fail(iface, "cannot read the PACKET_FANOUT group", errno);
      }
      fanout = arg & 0xffff;
    }
  }
  if (cfg.socket_filter_fd >= 0) {
    // Enforcing: the packets XDP sees (those that arrive), less those of bypassed flows; the
    // expression runs in user space (a socket has one filter).
    if (setsockopt(r->fd, SOL_SOCKET, SO_ATTACH_BPF, &cfg.socket_filter_fd,
                   sizeof cfg.socket_filter_fd) != 0) {
      fail(iface, "the kernel refused etcpipe's socket filter", errno);
    }
    if (!cfg.bpf.empty()) r->filter = std::make_unique<UserFilter>(cfg.bpf, r->dlt);
  } else if (!cfg.bpf.empty()) {
    attach_filter(r->fd, iface, cfg.bpf, r->dlt);  // replaces the one that took nothing
  } else if (const int unused = 0;
             setsockopt(r->fd, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof unused) != 0) {
    fail(iface, "cannot remove the filter", errno);
  }
  return r;
}

}  // namespace

std::vector<std::unique_ptr<PacketSource>> AfPacketSource::open(const LiveCaptureConfig& cfg,
                                                                unsigned workers) {
  if (cfg.interfaces.empty()) throw std::runtime_error("live capture: no interface given");
  check_distinct(cfg.interfaces);
  const auto budget = LiveLimits::budget(cfg.max_packets);
  // One fanout group per interface, created by the first worker's socket.
  std::vector<int> groups(cfg.interfaces.size(), kNewFanout);
  workers = std::max(1u, workers);
  std::vector<std::unique_ptr<PacketSource>> sources;
  for (unsigned w = 0; w < workers; ++w) {
    std::unique_ptr<AfPacketSource> s(
        new AfPacketSource(LiveLimits(cfg.stop, cfg.duration, budget)));
    for (std::size_t i = 0; i < cfg.interfaces.size(); ++i) {
      s->rings_.push_back(open_ring(cfg.interfaces[i], cfg, workers, groups[i]));
    }
    sources.push_back(std::move(s));
  }
  return sources;
}

AfPacketSource::AfPacketSource(LiveLimits limits) : limits_(std::move(limits)) {}

AfPacketSource::~AfPacketSource() = default;

void AfPacketSource::give_back_blocks() {
  for (auto& ring : rings_) {
    for (tpacket_block_desc* d : ring->read) {
      __atomic_store_n(&d->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
    }
    ring->read.clear();
  }
}

void AfPacketSource::release() {
  give_back_blocks();
}

void AfPacketSource::read_kernel_stats() {
  blocks_since_stats_ = 0;
  for (const auto& ring : rings_) {
    tpacket_stats_v3 st{};
    socklen_t len = sizeof st;
    // Reading resets the kernel's counters: they are added up here.
    if (getsockopt(ring->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) {
      stats_.kernel_drops += st.tp_drops;
      stats_.ring_freezes += st.tp_freeze_q_cnt;
    }
  }
}

// Reads packets of `r` into the batch, from as many ready blocks as fit. False if none was
// ready.
bool AfPacketSource::fill(Ring& r, PacketBatch& batch) {
  bool any = false;
  batch.dlt = r.dlt;
  while (!batch.full()) {
    tpacket_block_desc* d = r.desc(r.block);
    if (r.left == 0) {
      // Every block read out, lent to this batch: the ring has come round to the first.
      if (r.read.size() == r.blocks) break;
      if ((__atomic_load_n(&d->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) == 0)
        break;
      r.left = d->hdr.bh1.num_pkts;
      r.next = reinterpret_cast<const uint8_t*>(d) + d->hdr.bh1.offset_to_first_pkt;
      if (++blocks_since_stats_ == kBlocksPerStatsRead) read_kernel_stats();
    }
    for (; r.left > 0 && !batch.full(); --r.left) {
      const auto* h = reinterpret_cast<const tpacket3_hdr*>(r.next);
      const uint8_t* frame = r.next + h->tp_mac;
      const uint64_t ts = uint64_t(h->tp_sec) * kNsPerSec + h->tp_nsec;
      if ((h->tp_status & TP_STATUS_VLAN_VALID) != 0 && h->tp_snaplen >= 12 &&
          h->tp_snaplen + 4 <= PacketBatch::kMaxPacket) {
        // The kernel took the tag out of the frame: it goes back where it was.
        const uint16_t tpid = (h->tp_status & TP_STATUS_VLAN_TPID_VALID) != 0
                                  ? h->hv1.tp_vlan_tpid
                                  : uint16_t{ETH_P_8021Q};
        const uint16_t tag[2] = {htons(tpid), htons(static_cast<uint16_t>(h->hv1.tp_vlan_tci))};
        batch.push_spliced(ts, frame, h->tp_snaplen, 12, reinterpret_cast<const uint8_t*>(tag),
                           sizeof tag, h->tp_len + 4);
        stats_.bytes += h->tp_len + 4;
        // Enforcing, the expression runs here, on the frame as it was sent (tag included).
        const PacketRef& p = batch.ref(batch.size() - 1);
        if (r.filter && !r.filter->match(p.data, p.caplen, p.wire_len)) {
          batch.keep_first(batch.size() - 1);
          ++stats_.filtered;
          ++stats_.packets;
        }
      } else {
        stats_.bytes += h->tp_len;
        if (r.filter && !r.filter->match(frame, h->tp_snaplen, h->tp_len)) {
          ++stats_.filtered;
          ++stats_.packets;
        } else {
          batch.lend(PacketRef{ts, frame, h->tp_snaplen, h->tp_len});
        }
      }
      any = true;
      r.next += h->tp_next_offset;
    }
    if (r.left != 0) break;  // the batch is full
    r.read.push_back(d);     // handed back with the next batch
    r.block = (r.block + 1) % r.blocks;
  }
  return any;
}

bool AfPacketSource::next_batch(PacketBatch& batch) {
  batch.clear();
  give_back_blocks();
  quiet_ns_ = 0;
  if (ended_) return false;
  auto read = [&] {
    for (std::size_t k = 0; k < rings_.size(); ++k) {
      Ring& r = *rings_[(next_ring_ + k) % rings_.size()];
      if (!fill(r, batch)) continue;
      next_ring_ = (next_ring_ + k + 1) % rings_.size();
      return;
    }
  };
  // Nothing ready: wait for a block, without burning the core. Stopping, only as long as the
  // kernel takes to hand over a partly filled block.
  auto wait = [&](bool stopping) {
    read_kernel_stats();
    if (fds_.empty()) {
      for (const auto& ring : rings_) fds_.push_back(pollfd{ring->fd, POLLIN, 0});
    }
    const int n =
        poll(fds_.data(), fds_.size(), stopping ? static_cast<int>(2 * kBlockTimeoutMs) : kPollMs);
    for (const pollfd& p : fds_) {
      if ((p.revents & (POLLERR | POLLNVAL)) != 0) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err == ENETDOWN) continue;  // the link went down: it may come back
        fail(rings_[&p - fds_.data()]->iface, "socket error", err);
      }
    }
    return n > 0;
  };
  // -c: no more than the packets left, over all workers.
  const LiveLimits::Next got = limits_.next(batch, stats_, read, wait);
  if (got == LiveLimits::Next::End) return end();
  if (got == LiveLimits::Next::Quiet) quiet_ns_ = realtime_ns() - kQuietMarginNs;
  return true;
}

bool AfPacketSource::end() {
  ended_ = true;
  read_kernel_stats();
  return false;
}

}  // namespace etcpipe
