#include "capture/dpdk_source.hpp"

#include <pcap/dlt.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <sched.h>

#include <array>
#include <chrono>
#include <cstring>
#include <ctime>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "capture/user_filter.hpp"
#include "common/time.hpp"

namespace etcpipe {
namespace {

constexpr uint16_t kBurst = 64;
constexpr uint16_t kRxDescriptors = 1024;
constexpr uint16_t kTxDescriptors = 512;    // unused, but some drivers need a TX queue
constexpr uint64_t kQuietNs = 100'000'000;  // an empty batch this often on a quiet link
constexpr uint32_t kBurstsPerStatsRead = 1024;

// The symmetric Toeplitz key, 0x6d5a repeated (both directions of a flow hash alike), at
// the device's key size.
std::vector<uint8_t> symmetric_key(std::size_t size) {
  std::vector<uint8_t> k(size);
  for (std::size_t i = 0; i < size; ++i) k[i] = i % 2 == 0 ? 0x6d : 0x5a;
  return k;
}

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("DPDK: " + what);
}

std::string dpdk_error(int err) {
  return rte_strerror(err < 0 ? -err : err);
}

bool is_virtual(const std::string& device) {
  return device.rfind("net_", 0) == 0;
}

std::string device_name(const std::string& device) {
  return device.substr(0, device.find(','));
}

// EAL, initialized once per process (it cannot be initialized twice).
void init_eal(const std::vector<std::string>& devices, unsigned workers, const std::string& extra) {
  static std::once_flag once;
  static std::string error;
  std::call_once(once, [&] {
    std::vector<std::string> args = {"etcpipe", "--no-huge", "--no-shconf",
                                     "-m",      "512",       "--log-level=error"};
    bool pci = false;
    for (const std::string& d : devices) {
      std::string dev = d;
      // An af_packet vdev gets one queue pair per worker unless told otherwise.
      if (dev.rfind("net_af_packet", 0) == 0 && dev.find("qpairs=") == std::string::npos) {
        dev += ",qpairs=" + std::to_string(workers);
      }
      args.push_back(is_virtual(d) ? "--vdev" : "-a");
      args.push_back(dev);
      pci |= !is_virtual(d);
    }
    if (!pci) args.push_back("--no-pci");
    std::istringstream words(extra);
    for (std::string w; words >> w;) args.push_back(w);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    // EAL pins the calling thread to its main lcore: the threads made after it (workers,
    // writers, inference) would all inherit that one CPU. The mask is given back.
    cpu_set_t cpus;
    const bool saved = sched_getaffinity(0, sizeof cpus, &cpus) == 0;
    const int rc = rte_eal_init(static_cast<int>(args.size()), argv.data());
    if (saved) sched_setaffinity(0, sizeof cpus, &cpus);
    if (rc < 0) {
      error = "EAL initialization failed: " + dpdk_error(rte_errno) + " (the EAL arguments were:" +
              [&] {
                std::string s;
                for (std::size_t i = 1; i < args.size(); ++i) s += " " + args[i];
                return s;
              }() +
              ")";
    }
  });
  if (!error.empty()) fail(error);
}

// The started ports; stopped and closed when the last source goes, and EAL released with
// them (a process captures through DPDK once).
struct Ports {
  ~Ports() {
    for (uint16_t p : ids) {
      rte_eth_dev_stop(p);
      rte_eth_dev_close(p);
    }
    if (pool != nullptr) rte_mempool_free(pool);
    rte_eal_cleanup();
  }
  std::vector<uint16_t> ids;  // configured (and maybe started)
  rte_mempool* pool = nullptr;
};

class DpdkSource final : public PacketSource {
 public:
  DpdkSource(std::shared_ptr<Ports> ports, uint16_t queue, LiveLimits limits,
             const std::string& bpf)
      : ports_(std::move(ports)),
        queue_(queue),
        limits_(std::move(limits)),
        filter_(bpf, DLT_EN10MB) {}
  ~DpdkSource() override { release(); }

  bool next_batch(PacketBatch& batch) override {
    batch.clear();
    release();
    quiet_ns_ = 0;
    if (!registered_ && rte_lcore_id() == LCORE_ID_ANY) {
      // An lcore id, for the mempool's per-lcore caches, as EAL's own threads have.
      registered_ = rte_thread_register() == 0;
    }
    batch.dlt = DLT_EN10MB;
    if (ended_) return false;
    const uint64_t started = realtime_ns();
    for (;;) {
      if (limits_.spent()) return end();
      const bool stopping = limits_.stopping();  // what the queues hold is still read
      const uint64_t filtered = stats_.filtered;
      fill(batch);
      if (batch.size() != 0 || stats_.filtered != filtered) {
        idle_since_.reset();
        limits_.deliver(batch, stats_);
        return true;
      }
      if (stopping) return end();
      read_device_drops();
      const uint64_t now = realtime_ns();
      if (now - started >= kQuietNs) {  // a quiet link: flows may end by the clock
        quiet_ns_ = now - kQuietNs;
        return true;
      }
      idle();
    }
  }
  const SourceStats& stats() const override { return stats_; }
  uint64_t quiet_ns() const override { return quiet_ns_; }
  // The mbufs lent to the last batch go back to their pool.
  void release() override {
    if (held_ != 0) rte_pktmbuf_free_bulk(held_mbufs_.data(), held_);
    held_ = 0;
  }

 private:
  bool end() {
    ended_ = true;
    read_device_drops();
    rte_pktmbuf_free_bulk(burst_.data() + next_, received_ - next_);  // never read
    next_ = received_ = 0;
    return false;
  }

  // Reads bursts from every port's queue until the batch is full or nothing more came;
  // what a full batch has no room for waits in `burst_` for the next call.
  void fill(PacketBatch& batch) {
    for (bool more = true; more;) {
      for (; next_ < received_; ++next_) {
        if (batch.full()) return;
        add(batch, burst_[next_], burst_ns_);
      }
      next_ = received_ = 0;
      more = false;
      for (std::size_t k = 0; k < ports_->ids.size() && received_ == 0; ++k) {
        const uint16_t port = ports_->ids[(next_port_ + k) % ports_->ids.size()];
        received_ = rte_eth_rx_burst(port, queue_, burst_.data(), kBurst);
      }
      next_port_ = (next_port_ + 1) % ports_->ids.size();
      if (received_ != 0) {
        more = true;
        burst_ns_ = realtime_ns();  // no device timestamps: the packets' time
        if (queue_ == 0 && ++bursts_since_stats_ == kBurstsPerStatsRead) read_device_drops();
      }
    }
  }

  void add(PacketBatch& batch, rte_mbuf* m, uint64_t ts) {
    const uint32_t len = rte_pktmbuf_pkt_len(m);
    stats_.bytes += len;
    const auto* data = rte_pktmbuf_mtod(m, const uint8_t*);
    if (m->nb_segs > 1) {  // a chain: linearized, then copied into the batch's arena
      data = static_cast<const uint8_t*>(rte_pktmbuf_read(m, 0, len, scratch_.data()));
    }
    if (!filter_.match(data, len, len)) {
      ++stats_.filtered;
      ++stats_.packets;
      rte_pktmbuf_free(m);
      return;
    }
    if (m->nb_segs > 1) {
      batch.push(ts, data, std::min<uint32_t>(len, PacketBatch::kMaxPacket), len);
      rte_pktmbuf_free(m);
    } else {
      batch.lend(PacketRef{ts, data, len, len});
      held_mbufs_[held_++] = m;
    }
  }

  // No packet: a short while yields, then sleeps a hundredth of the quiet time so far (at
  // most 10 ms), so that an idle link costs next to no CPU while a link that was busy a
  // moment ago is polled again at once.
  void idle() {
    const auto now = std::chrono::steady_clock::now();
    if (!idle_since_) idle_since_ = now;
    const auto quiet = now - *idle_since_;
    if (quiet < std::chrono::milliseconds(1)) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          quiet / 100 + std::chrono::microseconds(20), std::chrono::milliseconds(10)));
    }
  }

  // The devices' own drop counters (cumulative since the start), by the first worker only.
  void read_device_drops() {
    bursts_since_stats_ = 0;
    if (queue_ != 0) return;
    uint64_t drops = 0;
    for (uint16_t port : ports_->ids) {
      rte_eth_stats st{};
      if (rte_eth_stats_get(port, &st) == 0) drops += st.imissed + st.ierrors + st.rx_nombuf;
    }
    stats_.kernel_drops = drops;
  }

  std::shared_ptr<Ports> ports_;
  uint16_t queue_;
  LiveLimits limits_;
  UserFilter filter_;
  bool registered_ = false;
  bool ended_ = false;
  std::array<rte_mbuf*, PacketBatch::kCapacity> held_mbufs_{};  // lent to the last batch
  uint32_t held_ = 0;
  std::array<rte_mbuf*, kBurst> burst_{};  // the last burst: [next_, received_) not read yet
  uint16_t next_ = 0;
  uint16_t received_ = 0;
  uint64_t burst_ns_ = 0;
  std::size_t next_port_ = 0;
  std::array<uint8_t, PacketBatch::kMaxPacket> scratch_{};
  std::optional<std::chrono::steady_clock::time_point> idle_since_;  // no packet since
  uint64_t quiet_ns_ = 0;
  uint32_t bursts_since_stats_ = 0;
  SourceStats stats_;
};

void start_port(uint16_t port, const rte_eth_dev_info& info, const std::string& device,
                unsigned workers, Ports& ports, const LiveCaptureConfig& cfg) {
  if (info.max_rx_queues < workers) {
    fail(device + " has " + std::to_string(info.max_rx_queues) +
         " RX queues: fewer than --workers " + std::to_string(workers));
  }
  rte_eth_conf conf{};
  std::vector<uint8_t> key = symmetric_key(info.hash_key_size);
  if (workers > 1 && info.flow_type_rss_offloads != 0) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    if (!key.empty()) {
      conf.rx_adv_conf.rss_conf.rss_key = key.data();
      conf.rx_adv_conf.rss_conf.rss_key_len = static_cast<uint8_t>(key.size());
    } else if (cfg.note) {
      cfg.note(device +
               ": the RSS key cannot be set: the two directions of a flow may reach "
               "different workers");
    }
    conf.rx_adv_conf.rss_conf.rss_hf =
        (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
  }
  if (std::strcmp(info.driver_name, "net_af_packet") == 0 && cfg.note) {
    cfg.note(device + ": DPDK's af_packet driver does not report its sockets' drops" +
             std::string(workers > 1 ? ", and under load it moves packets to another queue "
                                       "than their flow's (fanout rollover)"
                                     : "") +
             ": --capture afpacket reads the interface without either");
  }
  const auto q = static_cast<uint16_t>(workers);
  ports.ids.push_back(port);  // closed with the others if what follows fails
  if (int rc = rte_eth_dev_configure(port, q, q, &conf); rc != 0) {
    fail(device + ": cannot configure " + std::to_string(q) + " queues: " + dpdk_error(rc));
  }
  uint16_t rxd = kRxDescriptors, txd = kTxDescriptors;
  rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd);
  const int socket = rte_eth_dev_socket_id(port);
  for (uint16_t i = 0; i < q; ++i) {
    if (int rc = rte_eth_rx_queue_setup(port, i, rxd, socket, nullptr, ports.pool); rc != 0) {
      fail(device + ": RX queue " + std::to_string(i) + ": " + dpdk_error(rc));
    }
    if (int rc = rte_eth_tx_queue_setup(port, i, txd, socket, nullptr); rc != 0) {
      fail(device + ": TX queue " + std::to_string(i) + ": " + dpdk_error(rc));
    }
  }
  if (int rc = rte_eth_dev_start(port); rc != 0) {
    fail(device + ": cannot start: " + dpdk_error(rc));
  }
  rte_eth_promiscuous_enable(port);  // a probe sees every frame (not all devices can)
  rte_eth_stats_reset(port);
}

}  // namespace

bool have_dpdk() {
  return true;
}

std::vector<std::unique_ptr<PacketSource>> open_dpdk_sources(const LiveCaptureConfig& cfg,
                                                             unsigned workers) {
  if (cfg.interfaces.empty()) fail("no device given");
  check_distinct(cfg.interfaces);
  workers = std::max(1u, workers);
  init_eal(cfg.interfaces, workers, cfg.dpdk_eal);
  auto ports = std::make_shared<Ports>();
  // Each queue's descriptors, the bursts its worker holds, and the pool's per-lcore caches.
  const unsigned mbufs = static_cast<unsigned>(cfg.interfaces.size()) * workers *
                             (kRxDescriptors + PacketBatch::kCapacity + 2 * kBurst) +
                         (workers + 2) * 512;
  static unsigned pools = 0;  // a pool name is unique in the process
  ports->pool =
      rte_pktmbuf_pool_create(("etcpipe" + std::to_string(pools++)).c_str(), mbufs, 256, 0,
                              RTE_MBUF_DEFAULT_BUF_SIZE, static_cast<int>(rte_socket_id()));
  if (ports->pool == nullptr) {
    fail("cannot make a pool of " + std::to_string(mbufs) +
         " packet buffers: " + dpdk_error(rte_errno) + " (more memory: --dpdk-eal \"-m MB\")");
  }
  std::vector<std::pair<uint16_t, rte_eth_dev_info>> devices;
  for (const std::string& device : cfg.interfaces) {
    uint16_t port = 0;
    if (rte_eth_dev_get_port_by_name(device_name(device).c_str(), &port) != 0) {
      fail(device +
           ": no such device (a PCI address, or a vdev such as "
           "net_af_packet0,iface=eth0)");
    }
    rte_eth_dev_info info{};
    if (int rc = rte_eth_dev_info_get(port, &info); rc != 0) {
      fail(device + ": cannot read the device: " + dpdk_error(rc));
    }
    if (cfg.fit_workers)
      workers = std::min<unsigned>(workers, std::max<uint16_t>(1, info.max_rx_queues));
    devices.emplace_back(port, info);
  }
  for (std::size_t i = 0; i < devices.size(); ++i) {
    start_port(devices[i].first, devices[i].second, cfg.interfaces[i], workers, *ports, cfg);
  }
  const auto budget = LiveLimits::budget(cfg.max_packets);
  std::vector<std::unique_ptr<PacketSource>> sources;
  for (unsigned w = 0; w < workers; ++w) {
    sources.push_back(std::make_unique<DpdkSource>(
        ports, static_cast<uint16_t>(w), LiveLimits(cfg.stop, cfg.duration, budget), cfg.bpf));
  }
  return sources;
}

}  // namespace etcpipe
