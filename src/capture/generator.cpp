#include "capture/generator.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace etcpipe {
namespace {

void put16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}

uint16_t ip_checksum(const uint8_t* p, std::size_t n) {
  uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i] << 8 | p[i + 1]);
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return uint16_t(~sum);
}

// Births between two packets beyond which they are applied lazily, and the most that count
// (per flow: after 64 births per flow every flow has been replaced, but for e^-64).
constexpr double kEagerBirths = 64;
constexpr double kMaxLazyBirths = 64;

constexpr uint32_t kEth = 14, kIpv4 = 20, kIpv6 = 40, kTcp = 20, kUdp = 8;

}  // namespace

GeneratorSource::GeneratorSource(const GeneratorConfig& cfg)
    : cfg_(cfg),
      rng_(cfg.seed),
      flows_(std::max<uint64_t>(cfg.flows, 1)),
      payload_(65536 * 2),
      frame_(65536) {
  if (cfg_.packet_sizes.empty()) cfg_.packet_sizes = {64};
  for (std::size_t i = 0; i < payload_.size(); ++i) {
    payload_[i] = cfg_.random_payload ? uint8_t(rng_()) : uint8_t(i);
  }
  for (auto& f : flows_) new_flow(f);
}

// Every flow gets a tuple never used before: addresses and client port from a counter.
void GeneratorSource::new_flow(Flow& f) {
  const uint64_t n = next_client_++;
  f = Flow{};
  f.lazy_seen = lazy_births_;
  PacketTuple& t = f.t;
  const bool v6 = std::uniform_real_distribution<double>(0, 1)(rng_) < cfg_.ipv6_share;
  t.ip_version = v6 ? 6 : 4;
  t.proto = std::uniform_real_distribution<double>(0, 1)(rng_) < cfg_.tcp_share ? ipproto::kTcp
                                                                                : ipproto::kUdp;
  const uint32_t client = uint32_t(n / 50000);  // 50,000 source ports per client address
  if (v6) {
    t.src.b[0] = 0xfd;
    t.dst.b[0] = 0xfd;
    t.dst.b[1] = 0x01;
    std::memcpy(t.src.b + 12, &client, 4);
    t.dst.b[15] = uint8_t(rng_());
  } else {
    t.src.b[0] = 10;
    t.src.b[1] = uint8_t(client >> 16);
    t.src.b[2] = uint8_t(client >> 8);
    t.src.b[3] = uint8_t(client);
    t.dst.b[0] = 172;
    t.dst.b[1] = 16;
    t.dst.b[2] = uint8_t(rng_());
    t.dst.b[3] = uint8_t(rng_());
  }
  t.sport = uint16_t(1024 + n % 50000);
  static constexpr uint16_t kServerPorts[] = {443, 443, 443, 80, 53, 8443, 3478, 1194};
  t.dport = kServerPorts[rng_() % std::size(kServerPorts)];
  ++born_;
}

uint32_t GeneratorSource::build(const Flow& f, bool from_client, uint32_t size, uint8_t* out) {
  const PacketTuple& t = f.t;
  const bool v6 = t.ip_version == 6;
  const bool tcp = t.proto == ipproto::kTcp;
  const uint32_t l3 = v6 ? kIpv6 : kIpv4, l4 = tcp ? kTcp : kUdp;
  // A TCP flow opens with a bare SYN; every other packet has the size asked for.
  size = tcp && f.sent == 0 ? kEth + l3 + l4 : std::max(size, kEth + l3 + l4);
  const uint32_t payload = size - kEth - l3 - l4;
  const IpAddr& src = from_client ? t.src : t.dst;
  const IpAddr& dst = from_client ? t.dst : t.src;
  std::memset(out, 0, kEth + l3 + l4);
  out[0] = 0x02;  // locally administered MACs
  out[6] = 0x02;
  out[11] = 1;
  put16(out + 12, v6 ? 0x86DD : 0x0800);
  uint8_t* ip = out + kEth;
  if (v6) {
    ip[0] = 0x60;
    put16(ip + 4, uint16_t(l4 + payload));
    ip[6] = t.proto;
    ip[7] = 64;
    std::memcpy(ip + 8, src.b, 16);
    std::memcpy(ip + 24, dst.b, 16);
  } else {
    ip[0] = 0x45;
    put16(ip + 2, uint16_t(l3 + l4 + payload));
    put16(ip + 4, uint16_t(f.sent));
    ip[8] = 64;
    ip[9] = t.proto;
    std::memcpy(ip + 12, src.b, 4);
    std::memcpy(ip + 16, dst.b, 4);
    put16(ip + 10, ip_checksum(ip, kIpv4));
  }
  uint8_t* l4p = ip + l3;
  put16(l4p, from_client ? t.sport : t.dport);
  put16(l4p + 2, from_client ? t.dport : t.sport);
  if (tcp) {
    l4p[12] = 0x50;
    // The client's first packet opens the connection; the rest carry data.
    l4p[13] = f.sent == 0 ? tcp_flag::kSyn : (tcp_flag::kAck | tcp_flag::kPsh);
    put16(l4p + 14, 65535);
  } else {
    put16(l4p + 4, uint16_t(l4 + payload));
  }
  const uint32_t kept = std::min(size, cfg_.snaplen);
  if (kept > kEth + l3 + l4) {
    const std::size_t from = rng_() % (payload_.size() / 2);
    std::memcpy(l4p + l4, payload_.data() + from, kept - kEth - l3 - l4);
  }
  return size;
}

bool GeneratorSource::next_batch(PacketBatch& batch) {
  batch.clear();
  batch.dlt = linktype::kEthernet;
  if (produced_ >= cfg_.packets) return false;
  const double births_per_packet = cfg_.new_flows_per_sec / cfg_.rate_pps;
  while (!batch.full() && produced_ < cfg_.packets) {
    births_due_ += cfg_.open_all_first && produced_ < flows_.size() ? 0 : births_per_packet;
    // A new flow replaces a random active one. Many births between two packets (a birth
    // rate far above the packet rate) are applied lazily: a flow picked for a packet was
    // replaced meanwhile with the probability that one of those births hit it, drawn then.
    // The work stays bounded by the packets, however high the birth rate.
    if (births_due_ > kEagerBirths) {
      const double whole = std::floor(births_due_);
      lazy_births_ += std::min(whole, kMaxLazyBirths * double(flows_.size()));
      births_due_ -= whole;
    }
    while (births_due_ >= 1) {
      new_flow(flows_[rng_() % flows_.size()]);
      births_due_ -= 1;
    }
    const bool opening = cfg_.open_all_first && produced_ < flows_.size();
    Flow& f = flows_[opening ? produced_ : rng_() % flows_.size()];
    if (f.lazy_seen != lazy_births_) {
      // 1 - (1 - 1/F)^m: one of the m births since the flow was last looked at replaced it.
      const double m = lazy_births_ - f.lazy_seen;
      const double p = -std::expm1(m * std::log1p(-1.0 / double(flows_.size())));
      f.lazy_seen = lazy_births_;
      if (std::uniform_real_distribution<double>(0, 1)(rng_) < p) new_flow(f);
    }
    const bool from_client = f.sent == 0 || (rng_() & 1);
    const uint32_t size = cfg_.packet_sizes[rng_() % cfg_.packet_sizes.size()];
    const uint32_t wire = build(f, from_client, size, frame_.data());
    const uint32_t caplen = std::min({wire, cfg_.snaplen, PacketBatch::kMaxPacket});
    const uint64_t ts = cfg_.start_ns + uint64_t(double(produced_) * 1e9 / cfg_.rate_pps);
    batch.push(ts, frame_.data(), caplen, wire);
    ++f.sent;
    ++produced_;
    ++stats_.packets;
    stats_.bytes += wire;
  }
  return true;
}

}  // namespace etcpipe
