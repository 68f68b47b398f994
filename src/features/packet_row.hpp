// One selected packet into its flow's row: which bytes go where in the [N, L] matrix, the
// anonymization of addresses, ports and TCP fields, and the sequence entries. Shared by
// every extractor (and compiled for the GPU by nvcc), so that they differ only in how
// they find the row and the rank, never in what a row holds.
#pragma once

#include <cstdint>

#include "features/rows.hpp"
#include "packet/packet.hpp"

#if defined(__CUDACC__)
#define ETCPIPE_HD __host__ __device__
#else
#define ETCPIPE_HD
#endif

namespace etcpipe {

// Raw pointers to the arrays of a FeatureRows (valid for host or device memory).
struct RowsView {
  uint8_t* matrix;
  int32_t* sizes;
  float* iats;
  uint8_t* flags;
  int32_t* payloads;
  FlowInfo* info;
  uint32_t n;          // packets per row
  uint32_t l;          // bytes per packet
  uint32_t row_bytes;  // n * l, or 0 without a matrix
};

inline RowsView view_of(FeatureRows& rows) {
  return {rows.matrix(0), rows.sizes(0), rows.iats(0),      rows.flags(0),   rows.payloads(0),
          &rows.info(0),  rows.n(),      rows.spec().bytes, rows.row_bytes()};
}

// Up to two ranges of the packet's bytes copied into its L-byte slot.
struct RowPart {
  uint32_t src;  // offset in the packet
  uint32_t len;
  uint32_t dst;  // offset in the slot
};
struct RowPlan {
  RowPart part[2];
  uint32_t parts;
};

ETCPIPE_HD inline uint32_t min_u32(uint32_t a, uint32_t b) {
  return a < b ? a : b;
}
// Bytes of [from, to) that exist, clipped to `limit` bytes.
ETCPIPE_HD inline uint32_t span_len(uint32_t from, uint32_t to, uint32_t limit) {
  return to > from ? min_u32(to - from, limit) : 0;
}

// `avail`: bytes of the packet at hand (captured and copied). Bytes past the IP datagram
// (Ethernet padding) are never copied.
ETCPIPE_HD inline RowPlan plan_row(const FeatureSpec& s, const DecodedPacket& p, uint32_t avail) {
  const uint32_t end = min_u32(avail, p.payload_off + p.payload_caplen);
  RowPlan plan{};
  if (s.start == ByteStart::Payload) {
    plan.part[0] = {p.payload_off, span_len(p.payload_off, end, s.bytes), 0};
    plan.parts = 1;
    return plan;
  }
  const uint32_t start = s.start == ByteStart::L3 ? p.l3_off : p.l4_off;
  if (s.header_bytes == 0) {
    plan.part[0] = {start, span_len(start, end, s.bytes), 0};
    plan.parts = 1;
    return plan;
  }
  plan.part[0] = {start, span_len(start, min_u32(end, p.payload_off), s.header_bytes), 0};
  plan.part[1] = {p.payload_off, span_len(p.payload_off, end, s.bytes - s.header_bytes),
                  s.header_bytes};
  plan.parts = 2;
  return plan;
}

// Writes n bytes of `val` where packet offset `off` landed in the slot (parts clip it).
ETCPIPE_HD inline void patch(const RowPlan& plan, uint32_t off, const uint8_t* val, uint32_t n,
                             uint8_t* slot) {
  for (uint32_t k = 0; k < plan.parts; ++k) {
    const RowPart& part = plan.part[k];
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t pos = off + i;
      if (pos >= part.src && pos < part.src + part.len) slot[part.dst + pos - part.src] = val[i];
    }
  }
}

ETCPIPE_HD inline uint64_t mix64(uint64_t x) {  // splitmix64's finalizer
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// A pseudo-random value per flow and role (0/1: client/server address, 2/3: ports),
// from the seed and the flow's client -> server tuple: the same in every extractor.
ETCPIPE_HD inline uint64_t flow_random(uint64_t seed, const PacketTuple& t, uint32_t role) {
  uint64_t h = mix64(seed ^ (uint64_t{t.proto} << 32 | uint64_t{t.sport} << 16 | t.dport));
  for (uint32_t i = 0; i < 16; i += 8) {
    uint64_t a = 0, b = 0;
    for (uint32_t k = 0; k < 8; ++k) {
      a |= uint64_t{t.src.b[i + k]} << (8 * k);
      b |= uint64_t{t.dst.b[i + k]} << (8 * k);
    }
    h = mix64(h ^ a);
    h = mix64(h ^ b);
  }
  return mix64(h + role);
}

// Anonymizes the headers copied into `slot` (nothing to do for payload-only rows).
// `pkt`: the packet's bytes (avail of them), `client`: whether it was sent by the client.
ETCPIPE_HD inline void anonymize(const FeatureSpec& s, const DecodedPacket& p, const uint8_t* pkt,
                                 uint32_t avail, bool client, const PacketTuple& flow,
                                 const RowPlan& plan, uint8_t* slot) {
  if (s.start == ByteStart::Payload) return;
  const uint8_t zero[16] = {};
  const bool ports = (p.tuple.proto == ipproto::kTcp || p.tuple.proto == ipproto::kUdp) &&
                     p.frag != FragKind::Later;
  if (s.addresses != Anonymize::Keep) {
    uint8_t rnd[2][16] = {};  // [0]: this packet's source, [1]: its destination
    uint8_t port[2][2] = {};
    if (s.addresses == Anonymize::Random) {
      for (uint32_t side = 0; side < 2; ++side) {
        const uint32_t role = client ? side : 1 - side;  // 0 client, 1 server
        for (uint32_t half = 0; half < 2; ++half) {
          const uint64_t v = flow_random(s.seed, flow, role + 4 * half);
          for (uint32_t k = 0; k < 8; ++k) rnd[side][8 * half + k] = uint8_t(v >> (8 * k));
        }
        const uint64_t pv = flow_random(s.seed, flow, 2 + role);
        port[side][0] = uint8_t(pv);
        port[side][1] = uint8_t(pv >> 8);
      }
    }
    if (s.start == ByteStart::L3) {
      const bool v4 = p.tuple.ip_version == 4;
      const uint32_t len = v4 ? 4 : 16;
      patch(plan, p.l3_off + (v4 ? 12 : 8), rnd[0], len, slot);
      patch(plan, p.l3_off + (v4 ? 16 : 24), rnd[1], len, slot);
      if (v4) patch(plan, p.l3_off + 10, zero, 2, slot);  // header checksum
    }
    if (ports) {
      patch(plan, p.l4_off, port[0], 2, slot);
      patch(plan, p.l4_off + 2, port[1], 2, slot);
      patch(plan, p.l4_off + (p.tuple.proto == ipproto::kTcp ? 16 : 6), zero, 2, slot);
    }
  }
  if (s.zero_tcp_fields && ports && p.tuple.proto == ipproto::kTcp) {
    patch(plan, p.l4_off + 4, zero, 8, slot);  // sequence and acknowledgment numbers
    // Timestamps option (kind 8, length 10): both values.
    uint32_t o = p.l4_off + 20;
    const uint32_t end = min_u32(p.payload_off, avail);
    while (o < end && pkt[o] != 0) {
      if (pkt[o] == 1) {
        ++o;
        continue;
      }
      if (o + 1 >= end || pkt[o + 1] < 2) break;
      if (pkt[o] == 8 && pkt[o + 1] == 10) patch(plan, o + 2, zero, 8, slot);
      o += pkt[o + 1];
    }
  }
}

// Sets row r's flow information from its first packet.
ETCPIPE_HD inline void start_row(const RowsView& v, uint32_t r, const DecodedPacket& p, bool client,
                                 uint16_t worker, uint32_t slot, uint32_t generation) {
  FlowInfo& info = v.info[r];
  info.tuple = p.tuple;
  if (!client) {
    info.tuple.src = p.tuple.dst;
    info.tuple.dst = p.tuple.src;
    info.tuple.sport = p.tuple.dport;
    info.tuple.dport = p.tuple.sport;
  }
  info.first_ns = p.ts_ns;
  info.last_ns = p.ts_ns;
  info.packets = 0;
  info.worker = worker;
  info.slot = slot;
  info.generation = generation;
  info.timed_out = 0;
}

// Writes packet p (bytes pkt[0, avail)) as packet `rank` of row r; `prev_ns`: time of the
// flow's previous selected packet (its own time for the first). `copy(dst, src, len)`
// moves the bytes: the extractors differ there.
template <class Copy>
ETCPIPE_HD inline void write_packet(const FeatureSpec& s, const RowsView& v, uint32_t r,
                                    uint32_t rank, const DecodedPacket& p, const uint8_t* pkt,
                                    uint32_t avail, bool client, uint64_t prev_ns, Copy&& copy) {
  if (v.row_bytes != 0) {
    uint8_t* slot = v.matrix + uint64_t{r} * v.row_bytes + uint64_t{rank} * v.l;
    const RowPlan plan = plan_row(s, p, avail);
    uint32_t filled = 0;  // the slot is not cleared beforehand: gaps get the pad value here
    for (uint32_t k = 0; k < plan.parts; ++k) {
      const RowPart& part = plan.part[k];
      for (uint32_t i = filled; i < part.dst; ++i) slot[i] = s.pad;
      copy(slot + part.dst, pkt + part.src, part.len);
      filled = part.dst + part.len;
    }
    for (uint32_t i = filled; i < v.l; ++i) slot[i] = s.pad;
    anonymize(s, p, pkt, avail, client, v.info[r].tuple, plan, slot);
  }
  const uint64_t i = uint64_t{r} * v.n + rank;
  v.sizes[i] = client ? int32_t(p.ip_len) : -int32_t(p.ip_len);
  v.iats[i] = float(double(int64_t(p.ts_ns - prev_ns)) * 1e-9);  // < 0 if time went back
  v.flags[i] = p.tcp_flags;
  v.payloads[i] = int32_t(p.payload_len);
}

}  // namespace etcpipe
