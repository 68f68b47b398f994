#include "flow/fragment_tracker.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

namespace etcpipe {

FragmentTracker::FragmentTracker(uint32_t slots, uint64_t timeout_ns)
    : slots_(std::bit_ceil(std::max<uint32_t>(slots, 1))), timeout_ns_(timeout_ns) {}

FragmentTracker::Slot& FragmentTracker::slot_for(const DecodedPacket& p) {
  const auto& t = p.tuple;
  uint64_t h = p.frag_id * 0x9E3779B97F4A7C15ULL;
  for (int i = 0; i < 16; i += 8) {
    uint64_t a, b;
    std::memcpy(&a, t.src.b + i, 8);
    std::memcpy(&b, t.dst.b + i, 8);
    h = (h ^ a ^ (b * 31)) * 0xff51afd7ed558ccdULL;
    h ^= h >> 29;
  }
  h ^= (uint64_t{t.proto} << 32) ^ t.tunnel_id ^ (uint64_t{t.vlan} << 40);
  h *= 0xc4ceb9fe1a85ec53ULL;
  return slots_[(h >> 32) & (slots_.size() - 1)];
}

bool FragmentTracker::same_datagram(const Slot& s, const DecodedPacket& p) {
  const auto& t = p.tuple;
  return s.ip_version == t.ip_version && s.id == p.frag_id && s.proto == t.proto &&
         s.vlan == t.vlan && s.vlan_outer == t.vlan_outer && s.tunnel == t.tunnel &&
         s.tunnel_id == t.tunnel_id && s.src == t.src && s.dst == t.dst;
}

void FragmentTracker::on_first(const DecodedPacket& p) {
  Slot& s = slot_for(p);
  if (s.ip_version != 0 && s.expires_ns >= p.ts_ns && !same_datagram(s, p)) ++stats_.overwritten;
  const auto& t = p.tuple;
  s = Slot{t.src,   t.dst,   p.frag_id, t.tunnel_id,  t.vlan,   t.vlan_outer,
           t.sport, t.dport, t.proto,   t.ip_version, t.tunnel, p.ts_ns + timeout_ns_};
  ++stats_.tracked;
}

bool FragmentTracker::on_later(DecodedPacket& p) {
  Slot& s = slot_for(p);
  if (s.ip_version == 0 || s.expires_ns < p.ts_ns || !same_datagram(s, p)) {
    ++stats_.unmatched;
    return false;
  }
  p.tuple.sport = s.sport;
  p.tuple.dport = s.dport;
  s.expires_ns = p.ts_ns + timeout_ns_;
  ++stats_.matched;
  return true;
}

}  // namespace etcpipe
