// Toeplitz hash as NICs compute RSS (Microsoft RSS specification), table-driven: one
// 256-entry table per input byte position. With the symmetric key (0x6D5A repeated) the
// hash of a -> b equals the hash of b -> a, so both directions of a flow reach the same
// worker.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "packet/packet.hpp"

namespace etcpipe {

inline constexpr std::size_t kRssKeyBytes = 40;
using RssKey = std::array<uint8_t, kRssKeyBytes>;

// The key of Microsoft's RSS verification suite (also the default of many NIC drivers).
inline constexpr RssKey kMicrosoftRssKey = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

// 0x6D5A repeated: a 16-bit period makes the hash symmetric in (src, dst) and
// (sport, dport), whose offsets differ by multiples of 16 bits (Woo and Park, 2012).
inline constexpr RssKey kSymmetricRssKey = [] {
  RssKey k{};
  for (std::size_t i = 0; i < k.size(); i += 2) {
    k[i] = 0x6d;
    k[i + 1] = 0x5a;
  }
  return k;
}();

class ToeplitzHash {
 public:
  // Longest input: IPv6 source, destination, source port, destination port.
  static constexpr std::size_t kMaxInput = 36;

  explicit ToeplitzHash(const RssKey& key);

  // Hash of up to kMaxInput bytes.
  uint32_t hash(std::span<const uint8_t> input) const;
  // RSS input of a packet tuple: source address, destination address, source port,
  // destination port (ports are 0 for protocols without them, which adds nothing).
  uint32_t hash_tuple(const PacketTuple& t) const;

 private:
  std::array<std::array<uint32_t, 256>, kMaxInput> table_;
};

}  // namespace etcpipe
