// The batch feature-extraction algorithm (ETCpipe's GPUFE, done right), written once on
// Thrust so that it runs on the CPU (Thrust's CPP system) and, compiled by nvcc, on a CUDA
// GPU. All pointers are to memory the policy's system can reach.
//
// Input: a batch of n items (selected packets and "flow ended" markers, in arrival order),
// each with a flow id. Per-flow state (packets so far, row) persists across batches.
//  1. key = (flow id, arrival index); radix-sort the items by key.
//  2. head flag where the flow changes or the previous item ended its flow; an inclusive
//     scan of the heads numbers the segments; an exclusive segmented scan of "is a packet"
//     gives each packet's rank inside its segment.
//  3. at each segment head: the flow's packets-so-far from earlier batches (only for its
//     first segment in the batch: after an end the slot holds a new flow); segments that
//     start a flow take rows from the free stack (an exclusive scan hands them out; rows
//     are not cleared: every slot a packet fills is written whole, pad included).
//  4. each packet, through the sorted order back to its own bytes, is written into
//     row[rank] if rank < N (the published prototype copied the wrong packet's bytes here);
//     rows are started (their FlowInfo) in a pass before and updated in one after, since
//     the writes read it (on a GPU a row's packets can run in different warps).
//  5. at each segment tail: the flow's state is updated, and the row is complete if the
//     N-th packet arrived or the flow ended.
#pragma once

#include <thrust/execution_policy.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/scan.h>
#include <thrust/sort.h>

#include <cstring>

#include "features/packet_row.hpp"
#include "features/selected.hpp"

namespace etcpipe::batch {

inline constexpr uint32_t kNoRow = 0xFFFFFFFF;
inline constexpr uint16_t kSkip = 0xFFFF;  // the flow got no row: ignore it until its end

struct Items {
  const SelectedPacket* items;
  const uint8_t* arena;  // the batch's copied bytes (SelectedPacket::offset is into it)
  uint32_t n;
  uint32_t slot_base;  // flow id = slot_base + SelectedPacket::slot
  uint16_t worker;
};

struct FlowState {  // indexed by flow id; all zero = no flow
  uint16_t* count;  // selected packets seen; kSkip; >= N once complete
  uint32_t* row;    // the row being filled (read only while 0 < count < N)
};

// Per-item scratch arrays, n entries each (indexed in sorted order).
struct Scratch {
  uint64_t* key;
  uint32_t* order;  // sorted position -> item
  uint32_t* head;   // 1 where a segment starts
  uint32_t* seg;    // segment number, 1-based (inclusive scan of head)
  uint32_t* is_packet;
  uint32_t* local;     // rank of a packet inside its segment
  uint32_t* need;      // at heads: the segment starts a flow and needs a row
  uint32_t* alloc;     // exclusive scan of need
  uint32_t* seg_base;  // per segment (index seg - 1): packets of the flow before it
  uint32_t* seg_row;
  uint32_t* seg_packets;
  uint32_t* done_row;  // at tails: the row completed by the segment, or kNoRow
  uint32_t* written;   // at tails: packets written into rows by the segment
  uint32_t* late;      // at tails: packets past the N-th
};

// The Scratch arrays carved out of `key` (n entries) and `per_item` (kScratchArrays x n).
inline constexpr std::size_t kScratchArrays = 14;
inline Scratch scratch_layout(uint64_t* key, uint32_t* per_item, std::size_t n) {
  uint32_t* p = per_item;
  auto next = [&] {
    uint32_t* q = p;
    p += n;
    return q;
  };
  Scratch s{};
  s.key = key;
  s.order = next();
  s.head = next();
  s.seg = next();
  s.is_packet = next();
  s.local = next();
  s.need = next();
  s.alloc = next();
  s.seg_base = next();
  s.seg_row = next();
  s.seg_packets = next();
  s.done_row = next();  // done_row, written, late: consecutive (copied back in one go)
  s.written = next();
  s.late = next();
  return s;
}

struct Rows {
  RowsView view;
  FeatureSpec spec;
};

ETCPIPE_HD inline uint32_t flow_of(const Scratch& s, uint32_t j) {
  return uint32_t(s.key[j] >> 32);
}

struct MakeKey {
  Items in;
  Scratch s;
  ETCPIPE_HD void operator()(uint32_t i) const {
    s.key[i] = uint64_t{in.slot_base + in.items[i].slot} << 32 | i;
    s.order[i] = i;
  }
};

struct MarkHeads {
  Items in;
  Scratch s;
  ETCPIPE_HD void operator()(uint32_t j) const {
    s.head[j] = j == 0 || flow_of(s, j) != flow_of(s, j - 1) || in.items[s.order[j - 1]].end;
    s.is_packet[j] = in.items[s.order[j]].end ? 0 : 1;
  }
};

ETCPIPE_HD inline bool is_tail(const Scratch& s, uint32_t n, uint32_t j) {
  return j + 1 == n || s.seg[j + 1] != s.seg[j];
}

// At tails: packets per segment (needed at heads, so a pass of its own).
struct CountSegment {
  Scratch s;
  uint32_t n;
  ETCPIPE_HD void operator()(uint32_t j) const {
    if (is_tail(s, n, j)) s.seg_packets[s.seg[j] - 1] = s.local[j] + s.is_packet[j];
  }
};

struct StartSegment {
  Scratch s;
  FlowState st;
  uint32_t n;  // packets per row (N)
  ETCPIPE_HD void operator()(uint32_t j) const {
    s.need[j] = 0;
    if (!(j == 0 || s.seg[j] != s.seg[j - 1])) return;
    const uint32_t seg = s.seg[j] - 1, flow = flow_of(s, j);
    const bool first = j == 0 || flow_of(s, j - 1) != flow;  // else: after an end, a new flow
    const uint32_t base = first ? st.count[flow] : 0;
    s.seg_base[seg] = base;
    s.seg_row[seg] = first && base > 0 && base < n && base != kSkip ? st.row[flow] : kNoRow;
    s.need[j] = base == 0 && s.seg_packets[seg] > 0;
  }
};

struct TakeRow {
  Scratch s;
  const uint32_t* free_stack;  // free rows, the next to take at the back
  uint32_t free_n;
  ETCPIPE_HD void operator()(uint32_t j) const {
    if (!s.need[j]) return;
    const uint32_t seg = s.seg[j] - 1, k = s.alloc[j];
    if (k >= free_n) {
      s.seg_base[seg] = kSkip;  // counted by the caller: needed - taken
      return;
    }
    s.seg_row[seg] = free_stack[free_n - 1 - k];
  }
};

struct CopyBytes {  // 16-byte-wide copies on the host; a plain loop on the device
  ETCPIPE_HD void operator()(uint8_t* dst, const uint8_t* src, uint32_t len) const {
#if defined(__CUDA_ARCH__)
    for (uint32_t i = 0; i < len; ++i) dst[i] = src[i];
#else
    std::memcpy(dst, src, len);
#endif
  }
};

// The row (kNoRow if none) and rank of packet j in it, or false if it is no packet for a row.
ETCPIPE_HD inline bool row_slot(const Scratch& s, uint32_t j, uint32_t n, uint32_t& r,
                                uint32_t& rank) {
  if (!s.is_packet[j]) return false;
  const uint32_t seg = s.seg[j] - 1, base = s.seg_base[seg];
  r = s.seg_row[seg];
  if (base == kSkip || r == kNoRow) return false;
  rank = base + s.local[j];
  return rank < n;
}

// A pass over the packets that go into rows: Op{}(in, s, rows, j, row, rank) for each.
template <class Op>
struct RowPass {
  Items in;
  Scratch s;
  Rows rows;
  ETCPIPE_HD void operator()(uint32_t j) const {
    uint32_t r = 0, rank = 0;
    if (row_slot(s, j, rows.view.n, r, rank)) Op{}(in, s, rows, j, r, rank);
  }
};

// A row's FlowInfo is set by its first packet in a pass of its own: the row's other packets
// read it (anonymization) and its last one updates it, and on a GPU they may run in other
// warps than the first.
struct StartRow {
  ETCPIPE_HD void operator()(const Items& in, const Scratch& s, const Rows& rows, uint32_t j,
                             uint32_t r, uint32_t rank) const {
    if (rank != 0) return;
    const SelectedPacket& p = in.items[s.order[j]];
    start_row(rows.view, r, p.meta, p.from_client, in.worker, p.slot, p.generation);
  }
};

struct WritePacket {
  ETCPIPE_HD void operator()(const Items& in, const Scratch& s, const Rows& rows, uint32_t j,
                             uint32_t r, uint32_t rank) const {
    const SelectedPacket& p = in.items[s.order[j]];  // the packet's own bytes (step 3)
    const uint64_t prev =
        s.local[j] > 0 ? in.items[s.order[j - 1]].meta.ts_ns : rows.view.info[r].last_ns;
    write_packet(rows.spec, rows.view, r, rank, p.meta, in.arena + p.offset, p.copied,
                 p.from_client, prev, CopyBytes{});
  }
};

// The segment's last packet in the row updates the row's FlowInfo, in a pass after the
// writes (a segment's first packet reads the time of the row's previous one).
struct UpdateRow {
  ETCPIPE_HD void operator()(const Items& in, const Scratch& s, const Rows& rows, uint32_t j,
                             uint32_t r, uint32_t rank) const {
    const uint32_t n = rows.view.n;
    const uint32_t seg = s.seg[j] - 1, total = s.seg_base[seg] + s.seg_packets[seg];
    if (rank + 1 != (total < n ? total : n)) return;
    FlowInfo& info = rows.view.info[r];
    info.last_ns = in.items[s.order[j]].meta.ts_ns;
    info.packets = rank + 1;
  }
};

struct EndSegment {
  Items in;
  Scratch s;
  FlowState st;
  uint32_t n_items;
  uint32_t n;  // packets per row (N)
  ETCPIPE_HD void operator()(uint32_t j) const {
    s.done_row[j] = kNoRow;
    s.written[j] = 0;
    s.late[j] = 0;
    if (!is_tail(s, n_items, j)) return;
    const uint32_t seg = s.seg[j] - 1, base = s.seg_base[seg], pk = s.seg_packets[seg];
    const uint32_t r = s.seg_row[seg], flow = flow_of(s, j);
    const bool ended = in.items[s.order[j]].end;
    uint32_t total = base;
    if (base != kSkip) {
      total = base + pk;
      const uint32_t from = base < n ? base : n, to = total < n ? total : n;
      s.written[j] = r == kNoRow ? 0 : to - from;
      s.late[j] = pk - (to - from);
      const bool complete = (base < n && total >= n) || (ended && total > 0 && total < n);
      if (r != kNoRow && complete) s.done_row[j] = r;
      if (total > n) total = n;
    }
    if (j + 1 == n_items || flow_of(s, j + 1) != flow) {  // the flow's last segment here
      st.count[flow] = ended ? 0 : uint16_t(total);
      st.row[flow] = ended || s.done_row[j] != kNoRow ? kNoRow : r;
    }
  }
};

// Runs steps 1-5 on one batch (n >= 1). Rows needed: s.alloc[n-1] + s.need[n-1], of which
// the first free_n were taken from the top of free_stack (the caller pops them); the
// completed rows are in s.done_row (kNoRow elsewhere).
template <class Policy>
void extract_batch(Policy&& policy, const Items& in, const FlowState& st, const Scratch& s,
                   const Rows& rows, const uint32_t* free_stack, uint32_t free_n) {
  const uint32_t n = in.n;
  thrust::counting_iterator<uint32_t> first(0), last(n);
  thrust::for_each(policy, first, last, MakeKey{in, s});
  thrust::sort_by_key(policy, s.key, s.key + n, s.order);
  thrust::for_each(policy, first, last, MarkHeads{in, s});
  thrust::inclusive_scan(policy, s.head, s.head + n, s.seg);
  thrust::exclusive_scan_by_key(policy, s.seg, s.seg + n, s.is_packet, s.local);
  thrust::for_each(policy, first, last, CountSegment{s, n});
  thrust::for_each(policy, first, last, StartSegment{s, st, rows.view.n});
  thrust::exclusive_scan(policy, s.need, s.need + n, s.alloc);
  thrust::for_each(policy, first, last, TakeRow{s, free_stack, free_n});
  thrust::for_each(policy, first, last, RowPass<StartRow>{in, s, rows});
  thrust::for_each(policy, first, last, RowPass<WritePacket>{in, s, rows});
  thrust::for_each(policy, first, last, RowPass<UpdateRow>{in, s, rows});
  thrust::for_each(policy, first, last, EndSegment{in, s, st, n, rows.view.n});
}

}  // namespace etcpipe::batch
