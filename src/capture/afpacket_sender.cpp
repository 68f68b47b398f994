#include "capture/afpacket_sender.hpp"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <thread>

#include "capture/afpacket_socket.hpp"

namespace etcpipe {
namespace {

constexpr std::size_t kRingBytes = 8u << 20;
constexpr const char* kDoing = "sending on";
constexpr uint32_t kDataOffset = TPACKET2_HDRLEN - sizeof(sockaddr_ll);  // frame data in a slot

}  // namespace

AfPacketSender::AfPacketSender(const std::string& iface, uint32_t max_frame, double rate_pps)
    : iface_(iface), rate_pps_(rate_pps) {
  const PacketSocket sock = open_packet_socket(iface, kDoing);
  fd_ = sock.fd;
  auto fail = [this](const std::string& what, int err) {
    if (map_ != nullptr) munmap(map_, map_len_);
    close(fd_);
    packet_socket_error(iface_, what, err, kDoing);
  };
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, iface.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd_, SIOCGIFMTU, &ifr) != 0) fail("cannot read its MTU", errno);
  const auto largest_accepted = static_cast<uint32_t>(ifr.ifr_mtu) + ETH_HLEN;
  const int version = TPACKET_V2;
  if (setsockopt(fd_, SOL_PACKET, PACKET_VERSION, &version, sizeof version) != 0) {
    fail("TPACKET_V2 not supported", errno);
  }
  // Through the qdisc, not around it: the kernel then picks the transmit queue by its flow
  // hash, so that a multi-queue receiver sees each flow on one queue.
  frame_size_ = std::bit_ceil(std::max<uint32_t>(max_frame + kDataOffset, 2048));
  max_data_ = std::min(frame_size_ - kDataOffset, largest_accepted);
  const uint32_t block = std::max<uint32_t>(frame_size_, 1u << 16);
  tpacket_req req{};
  req.tp_block_size = block;
  req.tp_block_nr = static_cast<unsigned>(std::max<std::size_t>(1, kRingBytes / block));
  req.tp_frame_size = frame_size_;
  req.tp_frame_nr = req.tp_block_nr * (block / frame_size_);
  if (setsockopt(fd_, SOL_PACKET, PACKET_TX_RING, &req, sizeof req) != 0) {
    fail("the kernel refused a TX ring", errno);
  }
  frames_ = req.tp_frame_nr;
  map_len_ = std::size_t(req.tp_block_size) * req.tp_block_nr;
  void* map = mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (map == MAP_FAILED) fail("cannot map the TX ring", errno);
  map_ = static_cast<uint8_t*>(map);
  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(ETH_P_ALL);
  addr.sll_ifindex = static_cast<int>(sock.ifindex);
  if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    fail("cannot bind to the interface", errno);
  }
  start_ = std::chrono::steady_clock::now();
}

AfPacketSender::~AfPacketSender() {
  munmap(map_, map_len_);
  close(fd_);
}

void AfPacketSender::kick(bool wait) {
  // With MSG_DONTWAIT the kernel sends what is queued and returns; without it, it returns
  // when every queued frame has left.
  while (::send(fd_, nullptr, 0, wait ? 0 : MSG_DONTWAIT) < 0) {
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == ENOBUFS) return;  // the driver is busy: later
    packet_socket_error(iface_, "send failed", errno, kDoing);
  }
}

void AfPacketSender::send(const PacketBatch& batch) {
  for (uint32_t i = 0; i < batch.size(); ++i) {
    const auto bytes = batch.bytes(i);
    if (bytes.size() > max_data_) {
      ++too_long_;
      continue;
    }
    if (rate_pps_ > 0) {  // packet k leaves at start + k / rate
      const auto due = start_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                    std::chrono::duration<double>(double(packets_) / rate_pps_));
      if (std::chrono::steady_clock::now() < due) {
        kick(false);
        std::this_thread::sleep_until(due);
      }
    }
    auto* h = reinterpret_cast<tpacket2_hdr*>(frame(next_));
    // A slot still being sent: push the ring along and wait for room.
    while ((__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) &
            (TP_STATUS_SEND_REQUEST | TP_STATUS_SENDING)) != 0) {
      kick(false);
      pollfd p{fd_, POLLOUT, 0};
      poll(&p, 1, 10);
    }
    if (h->tp_status == TP_STATUS_WRONG_FORMAT) ++refused_;
    std::memcpy(frame(next_) + kDataOffset, bytes.data(), bytes.size());
    h->tp_len = static_cast<uint32_t>(bytes.size());
    __atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
    next_ = (next_ + 1) % frames_;
    ++packets_;
    bytes_ += bytes.size();
  }
  kick(false);
}

uint64_t AfPacketSender::finish() {
  kick(true);
  uint64_t refused = refused_;
  for (uint32_t i = 0; i < frames_; ++i) {
    auto* h = reinterpret_cast<tpacket2_hdr*>(frame(i));
    if (h->tp_status == TP_STATUS_WRONG_FORMAT) ++refused;
  }
  return refused;
}

}  // namespace etcpipe
