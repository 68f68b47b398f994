#include "pipeline/toeplitz.hpp"

namespace etcpipe {

ToeplitzHash::ToeplitzHash(const RssKey& key) {
  // window(k): the 32 key bits starting at bit k (bit 0 = most significant of key[0]).
  auto window = [&key](std::size_t k) {
    uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i) {
      const std::size_t byte = k / 8 + i;
      v = (v << 8) | (byte < key.size() ? key[byte] : 0);
    }
    return static_cast<uint32_t>(v >> (32 - k % 8));
  };
  for (std::size_t pos = 0; pos < kMaxInput; ++pos) {
    for (uint32_t b = 0; b < 256; ++b) {
      uint32_t h = 0;
      for (std::size_t bit = 0; bit < 8; ++bit) {
        if (b & (0x80u >> bit)) h ^= window(pos * 8 + bit);
      }
      table_[pos][b] = h;
    }
  }
}

uint32_t ToeplitzHash::hash(std::span<const uint8_t> input) const {
  uint32_t h = 0;
  for (std::size_t i = 0; i < input.size() && i < kMaxInput; ++i) h ^= table_[i][input[i]];
  return h;
}

uint32_t ToeplitzHash::hash_tuple(const PacketTuple& t) const {
  const std::size_t alen = t.ip_version == 6 ? 16 : 4;
  uint32_t h = 0;
  std::size_t pos = 0;
  for (std::size_t i = 0; i < alen; ++i) h ^= table_[pos++][t.src.b[i]];
  for (std::size_t i = 0; i < alen; ++i) h ^= table_[pos++][t.dst.b[i]];
  h ^= table_[pos][t.sport >> 8] ^ table_[pos + 1][t.sport & 0xFF];
  h ^= table_[pos + 2][t.dport >> 8] ^ table_[pos + 3][t.dport & 0xFF];
  return h;
}

}  // namespace etcpipe
