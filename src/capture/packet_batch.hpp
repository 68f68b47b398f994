// A batch of captured packets: the unit every source delivers and every stage consumes.
// Packet bytes live in the batch's own arena (allocated once and reused), or where the
// source keeps them, lent: for the whole run (a mapped file, a replay from memory), or until
// the source's next batch (a live ring: see PacketSource::next_batch).
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

namespace etcpipe {

struct PacketRef {
  uint64_t ts_ns;
  const uint8_t* data;  // in the batch's arena, or lent
  uint32_t caplen;
  uint32_t wire_len;
};

class PacketBatch {
 public:
  static constexpr uint32_t kCapacity = 256;
  static constexpr uint32_t kMaxPacket = 262144;    // libpcap's largest snap length
  static constexpr uint32_t kArenaFill = 1u << 20;  // stop adding beyond this
  static constexpr uint32_t kArenaBytes = kArenaFill + kMaxPacket;

  PacketBatch() : arena_(new uint8_t[kArenaBytes]) {}

  int dlt = 1;  // link type of every packet in the batch

  uint32_t size() const { return count_; }
  bool full() const { return count_ == kCapacity || used_ >= kArenaFill; }
  void clear() { count_ = used_ = 0; }
  const PacketRef& ref(uint32_t i) const { return refs_[i]; }
  std::span<const uint8_t> bytes(uint32_t i) const { return {refs_[i].data, refs_[i].caplen}; }
  // Copies one packet in; the caller checks !full() first. caplen <= kMaxPacket.
  void push(uint64_t ts_ns, const uint8_t* data, uint32_t caplen, uint32_t wire_len) {
    std::memcpy(arena_.get() + used_, data, caplen);
    refs_[count_++] = PacketRef{ts_ns, arena_.get() + used_, caplen, wire_len};
    used_ += caplen;
  }
  // Copies one packet in with `extra` bytes inserted at offset `at` (a VLAN tag the kernel
  // took out of the frame); caplen + extra_len <= kMaxPacket, at <= caplen.
  void push_spliced(uint64_t ts_ns, const uint8_t* data, uint32_t caplen, uint32_t at,
                    const uint8_t* extra, uint32_t extra_len, uint32_t wire_len) {
    uint8_t* out = arena_.get() + used_;
    std::memcpy(out, data, at);
    std::memcpy(out + at, extra, extra_len);
    std::memcpy(out + at + extra_len, data + at, caplen - at);
    refs_[count_++] = PacketRef{ts_ns, out, caplen + extra_len, wire_len};
    used_ += caplen + extra_len;
  }
  // Adds a packet without copying it: its bytes must stay unchanged until the source says
  // otherwise (see PacketSource). The caller checks !full() first.
  void lend(const PacketRef& packet) { refs_[count_++] = packet; }
  // Keeps the first n packets only.
  void keep_first(uint32_t n) { count_ = n < count_ ? n : count_; }

 private:
  std::unique_ptr<uint8_t[]> arena_;
  PacketRef refs_[kCapacity];
  uint32_t count_ = 0;
  uint32_t used_ = 0;
};

}  // namespace etcpipe
