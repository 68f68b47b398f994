// etcpipe's BPF programs, in one object with their maps:
// - etcpipe_xdp (XDP, on every capture interface): finds each frame's flow in the verdict
//   map and acts on it (drop, or bypass: on without user space, counted in the flow's
//   entry); a frame without a verdict goes where user space reads it: its AF_XDP socket
//   (afxdp), the stack and the kernel's packet tap (afpacket), or, inline, a copy in the ring
//   buffer while the frame itself is forwarded to the other port.
// - etcpipe_socket (a socket filter on afpacket's sockets): hides from user space the
//   frames XDP passed on for bypassed flows.
// - With a model loaded (classify --in-kernel), etcpipe_xdp also classifies flows: it keeps
//   each flow's first packets' values and runs an integer forest at the last one, writing
//   the verdict into the verdict map (etcpipe_xdp.h, "In-kernel classification").
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "etcpipe_xdp.h"

#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define ETH_P_QINQ1 0x9100
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10
#define PACKET_OUTGOING 4

const volatile __u32 etcpipe_mode = 0;

// One AF_XDP socket per receive queue (key: the queue index).
struct {
  __uint(type, BPF_MAP_TYPE_XSKMAP);
  __uint(max_entries, 256);
  __type(key, __u32);
  __type(value, __u32);
} xsks SEC(".maps");

// The flows with a verdict (its size is set by user space before loading).
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct etcpipe_flow_key);
  __type(value, struct etcpipe_flow_state);
} verdicts SEC(".maps");

// Inline mode: the port a frame that arrives on ifindex K leaves by.
struct {
  __uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
  __uint(max_entries, 64);
  __type(key, __u32);
  __type(value, __u32);
} ports SEC(".maps");

// Inline mode: copies of the frames user space needs (its size is set before loading).
struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 1 << 22);
} copies SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct etcpipe_xdp_stats);
} stats SEC(".maps");

// The interfaces the program is attached to (key: ifindex), for the socket filter.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 64);
  __type(key, __u32);
  __type(value, __u8);
} captured SEC(".maps");

// In-kernel classification (etcpipe_xdp.h): the flows being classified (its size is set by
// user space), the model, and room for one evaluation.
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct etcpipe_flow_key);
  __type(value, struct etcpipe_kernel_flow);
} kernel_flows SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, ETCPIPE_KERNEL_MAX_NODES);
  __type(key, __u32);
  __type(value, struct etcpipe_kernel_node);
} kernel_nodes SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, ETCPIPE_KERNEL_MAX_LEAVES);
  __type(key, __u32);
  __type(value, struct etcpipe_kernel_leaf);
} kernel_leaves SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct etcpipe_kernel_config);
} kernel_config SEC(".maps");

struct kernel_scratch {
  __s32 value[ETCPIPE_KERNEL_INPUTS * ETCPIPE_KERNEL_MAX_PACKETS];
  __u32 sum[ETCPIPE_KERNEL_MAX_CLASSES];
  struct etcpipe_kernel_flow fresh;
  struct etcpipe_flow_state verdict;
};
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct kernel_scratch);
} kernel_scratch SEC(".maps");

// Room for a frame's headers to parse, or for a copy (header, then the bytes).
struct scratch {
  struct etcpipe_copy copy;
  __u8 data[ETCPIPE_COPY_MAX];
};
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct scratch);
} scratch SEC(".maps");

// min(len, max), in a register the verifier sees bounded (clang may test one copy of a value
// and pass another to a helper).
static __always_inline __u32 at_most(__u32 len, __u32 max) {
  __u32 n = len;
  asm volatile("" : "+r"(n));
  if (n > max) n = max;
  asm volatile("" : "+r"(n));
  return n & (2 * max - 1);
}

struct parsed {
  struct etcpipe_flow_key key;
  __u32 ip_bytes;
  __u32 payload;  // bytes after the TCP or UDP header
  __u32 tcp_flags;
  __u32 dir;  // 0: from key.lo
};

// Big-endian 16 bits at `off`, which the caller has checked against the bytes read.
static __always_inline __u16 be16(const __u8 *b, __u32 off) {
  off &= ETCPIPE_HEADER_BYTES - 1;
  if (off > ETCPIPE_HEADER_BYTES - 2) return 0;
  return (__u16)(b[off] << 8 | b[off + 1]);
}

static __always_inline __u8 byte_at(const __u8 *b, __u32 off) {
  return b[off & (ETCPIPE_HEADER_BYTES - 1)];
}

// The first `n` bytes of a frame of `len` bytes (`b`) to the flow key etcpipe's decoder
// would give it (and the direction, IP length and TCP flags); -1 for a frame XDP does not
// act on. `hw_tag`: a VLAN tag the kernel took out of the frame (its TCI | 0x10000), the
// outer one, as user space puts it back; 0: none.
static __always_inline int parse(const __u8 *b, __u32 n, __u32 len, __u32 hw_tag,
                                 struct parsed *p) {
  if (n < ETH_HLEN || n > ETCPIPE_HEADER_BYTES) return -1;
  __u32 off = ETH_HLEN;
  __u16 type = be16(b, 12);
  __u16 vlan = hw_tag != 0 ? (hw_tag & 0x0FFF) : 0, outer = 0;
  const int first = hw_tag != 0 ? 1 : 0;
#pragma unroll
  for (int tags = 0; tags < 2; ++tags) {
    if (tags + first >= 2) break;
    if (type != ETH_P_8021Q && type != ETH_P_8021AD && type != ETH_P_QINQ1) break;
    if (off + 4 > n) return -1;
    if (tags + first > 0) outer = vlan;
    vlan = be16(b, off) & 0x0FFF;
    type = be16(b, off + 2);
    off += 4;
  }
  // Up to two tags, as the decoder's first two; a third: user space's alone.
  if (type == ETH_P_8021Q || type == ETH_P_8021AD || type == ETH_P_QINQ1) return -1;
  __u32 src_off, addr_len, l4;
  const __u32 ip_off = off;
  __u8 proto;
  if (type == ETH_P_IP) {
    if (off + 20 > n || (byte_at(b, off) >> 4) != 4) return -1;
    const __u32 ihl = (byte_at(b, off) & 0x0F) * 4;
    if (ihl < 20 || (be16(b, off + 6) & 0x3FFF) != 0) return -1;  // fragments: user space
    p->ip_bytes = be16(b, off + 2);
    if (p->ip_bytes == 0) p->ip_bytes = len - off;  // TSO: the length on the wire
    if (p->ip_bytes < ihl || p->ip_bytes > len - off) return -1;  // the decoder's bad length
    proto = byte_at(b, off + 9);
    src_off = off + 12;
    addr_len = 4;
    l4 = off + ihl;
    p->key.ip_version = 4;
  } else if (type == ETH_P_IPV6) {
    if (off + 40 > n || (byte_at(b, off) >> 4) != 6) return -1;
    const __u32 payload = be16(b, off + 4);
    p->ip_bytes = payload == 0 ? len - off : payload + 40u;  // 0: jumbogram or TSO
    if (p->ip_bytes > len - off) return -1;
    proto = byte_at(b, off + 6);  // extension headers: user space
    src_off = off + 8;
    addr_len = 16;
    l4 = off + 40;
    p->key.ip_version = 6;
  } else {
    return -1;
  }
  if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) return -1;
  if (l4 + (proto == IPPROTO_TCP ? 14 : 4) > n) return -1;
  const __u16 sport = be16(b, l4), dport = be16(b, l4 + 2);
  p->tcp_flags = proto == IPPROTO_TCP ? byte_at(b, l4 + 13) : 0;
  const __u32 headers = l4 - ip_off + (proto == IPPROTO_TCP ? (byte_at(b, l4 + 12) >> 4) * 4 : 8);
  p->payload = p->ip_bytes > headers ? p->ip_bytes - headers : 0;
  // The lower endpoint first: addresses in memcmp order (big-endian words), then ports.
  src_off &= ETCPIPE_HEADER_BYTES - 1;
  if (src_off > ETCPIPE_HEADER_BYTES - 32) return -1;
  __u64 s0 = 0, s1 = 0, d0 = 0, d1 = 0;
  if (addr_len == 4) {
    __u32 s4, d4;
    __builtin_memcpy(&s4, b + src_off, 4);
    __builtin_memcpy(&d4, b + src_off + 4, 4);
    s0 = __builtin_bswap32(s4);
    d0 = __builtin_bswap32(d4);
  } else {
    __builtin_memcpy(&s0, b + src_off, 8);
    __builtin_memcpy(&s1, b + src_off + 8, 8);
    __builtin_memcpy(&d0, b + src_off + 16, 8);
    __builtin_memcpy(&d1, b + src_off + 24, 8);
    s0 = __builtin_bswap64(s0);
    s1 = __builtin_bswap64(s1);
    d0 = __builtin_bswap64(d0);
    d1 = __builtin_bswap64(d1);
  }
  const int same = s0 == d0 && s1 == d1;
  const int src_is_lo = s0 < d0 || (s0 == d0 && s1 < d1) || (same && sport <= dport);
  const __u32 lo_off = src_is_lo ? src_off : src_off + addr_len;
  const __u32 hi_off = src_is_lo ? src_off + addr_len : src_off;
  __builtin_memset(p->key.lo_addr, 0, 32);
  if (addr_len == 4) {
    __builtin_memcpy(p->key.lo_addr, b + (lo_off & (ETCPIPE_HEADER_BYTES - 1)), 4);
    __builtin_memcpy(p->key.hi_addr, b + (hi_off & (ETCPIPE_HEADER_BYTES - 1)), 4);
  } else {
    __builtin_memcpy(p->key.lo_addr, b + (lo_off & (ETCPIPE_HEADER_BYTES - 1)), 16);
    __builtin_memcpy(p->key.hi_addr, b + (hi_off & (ETCPIPE_HEADER_BYTES - 1)), 16);
  }
  p->key.lo_port = src_is_lo ? sport : dport;
  p->key.hi_port = src_is_lo ? dport : sport;
  p->key.proto = proto;
  p->key.vlan = vlan;
  p->key.vlan_outer = outer;
  p->key.tunnel = 0;
  p->key.reserved = 0;
  p->key.tunnel_id = 0;
  p->dir = src_is_lo ? 0 : 1;
  return 0;
}

// Whether the entry's action applies to this frame: drop, or bypass but for TCP FIN and RST,
// which go to user space (it sees the flow end).
static __always_inline int acts_on(const struct etcpipe_flow_state *st, const struct parsed *p) {
  return st->action == ETCPIPE_ACTION_DROP ||
         (st->action == ETCPIPE_ACTION_BYPASS && (p->tcp_flags & (TCP_FIN | TCP_RST)) == 0);
}

// The flow's entry, if it has one whose action applies to this frame.
static __always_inline struct etcpipe_flow_state *acting_entry(const struct parsed *p) {
  struct etcpipe_flow_state *st = bpf_map_lookup_elem(&verdicts, &p->key);
  return st != 0 && acts_on(st, p) ? st : 0;
}

// The action XDP takes on this frame, counted in the flow's entry; pass: none. `known`: the
// flow has a verdict (then there is nothing left for the in-kernel classifier to do).
static __always_inline __u32 act(const struct parsed *p, int *known) {
  struct etcpipe_flow_state *st = bpf_map_lookup_elem(&verdicts, &p->key);
  *known = st != 0;
  if (st == 0 || !acts_on(st, p)) return ETCPIPE_ACTION_PASS;
  const __u32 d = p->dir & 1;
  const __u64 now = bpf_ktime_get_ns();
  if (st->action == ETCPIPE_ACTION_BYPASS) {
    const __u64 shown = st->shown_ns != 0 ? st->shown_ns : st->verdict_ns;
    if (now - shown >= ETCPIPE_KEEPALIVE_NS) {
      st->shown_ns = now;
      return ETCPIPE_ACTION_PASS;  // to user space, uncounted: the flow stays alive there
    }
  }
  __sync_fetch_and_add(&st->packets[d], 1);
  __sync_fetch_and_add(&st->bytes[d], p->ip_bytes);
  if (p->tcp_flags != 0) __sync_fetch_and_or(&st->tcp_flags[d], p->tcp_flags);
  if (st->first_ns == 0) st->first_ns = now;
  st->last_ns = now;
  if (st->action == ETCPIPE_ACTION_BYPASS) __sync_fetch_and_add(&st->to_hide[d], 1);
  return st->action;
}

// One tree of the in-kernel forest (a bpf_loop callback, verified once however many trees):
// from its root to a leaf, whose scores are added to the class sums.
static long kernel_tree(__u32 t, void *unused) {
  __u32 zero = 0;
  const struct etcpipe_kernel_config *cfg = bpf_map_lookup_elem(&kernel_config, &zero);
  struct kernel_scratch *ks = bpf_map_lookup_elem(&kernel_scratch, &zero);
  if (cfg == 0 || ks == 0) return 1;
  __u32 i = cfg->root[t & (ETCPIPE_KERNEL_MAX_TREES - 1)];
  for (__u32 depth = 0; depth < ETCPIPE_KERNEL_MAX_DEPTH; ++depth) {
    const struct etcpipe_kernel_node *node = bpf_map_lookup_elem(&kernel_nodes, &i);
    if (node == 0) return 1;
    if (node->feature == ETCPIPE_KERNEL_LEAF) {
      const __u32 l = node->left;
      const struct etcpipe_kernel_leaf *leaf = bpf_map_lookup_elem(&kernel_leaves, &l);
      if (leaf == 0) return 1;
#pragma unroll
      for (__u32 k = 0; k < ETCPIPE_KERNEL_MAX_CLASSES; ++k) ks->sum[k] += leaf->score[k];
      return 0;
    }
    const __u32 f = node->feature & (ETCPIPE_KERNEL_INPUTS * ETCPIPE_KERNEL_MAX_PACKETS - 1);
    i = ks->value[f] <= node->threshold ? node->left : node->right;
  }
  return 1;  // deeper than the loader allows: not reached
}

// The in-kernel classifier's part of a frame of a flow without an acting verdict: the flow's
// state made at its first frame (whose sender is the client, but for a SYN-ACK), the values
// of its selected packets kept, and at the last one the forest run and the verdict written.
static __always_inline void kernel_classify(const struct parsed *p,
                                            struct etcpipe_xdp_stats *s) {
  __u32 zero = 0;
  const struct etcpipe_kernel_config *cfg = bpf_map_lookup_elem(&kernel_config, &zero);
  struct kernel_scratch *ks = bpf_map_lookup_elem(&kernel_scratch, &zero);
  if (cfg == 0 || ks == 0 || cfg->trees == 0) return;
  struct etcpipe_kernel_flow *kf = bpf_map_lookup_elem(&kernel_flows, &p->key);
  if (kf == 0) {
    __builtin_memset(&ks->fresh, 0, sizeof(ks->fresh));
    const int from_lo = p->dir == 0;
    const int syn_ack = (p->tcp_flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK);
    ks->fresh.client_is_lo = p->key.proto == IPPROTO_TCP && syn_ack ? !from_lo : from_lo;
    if (bpf_map_update_elem(&kernel_flows, &p->key, &ks->fresh, BPF_NOEXIST) != 0) {
      s->kernel_unkept++;
      return;
    }
    kf = bpf_map_lookup_elem(&kernel_flows, &p->key);
    if (kf == 0) return;
  }
  if (kf->state != ETCPIPE_KERNEL_COLLECTING || p->payload == 0) return;
  const __u32 i = kf->count;
  if (i >= cfg->packets || i >= ETCPIPE_KERNEL_MAX_PACKETS) return;
  const __u64 now = bpf_ktime_get_ns();
  const int from_client = (p->dir == 0) == (kf->client_is_lo != 0);
  const __u32 n = ETCPIPE_KERNEL_MAX_PACKETS;
  kf->value[ETCPIPE_KERNEL_SIZES * n + i] = from_client ? (__s32)p->ip_bytes : -(__s32)p->ip_bytes;
  kf->value[ETCPIPE_KERNEL_IATS * n + i] = i == 0 ? 0 : (__s32)((now - kf->last_ns) / 1000);
  kf->value[ETCPIPE_KERNEL_FLAGS * n + i] = (__s32)p->tcp_flags;
  kf->value[ETCPIPE_KERNEL_PAYLOADS * n + i] = (__s32)p->payload;
  kf->last_ns = now;
  kf->count = (__u8)(i + 1);
  if (i + 1 < cfg->packets) return;

  __builtin_memcpy(ks->value, kf->value, sizeof(ks->value));
  __builtin_memset(ks->sum, 0, sizeof(ks->sum));
  bpf_loop(cfg->trees, kernel_tree, 0, 0);
  __u32 best = 0, cls = 0;
#pragma unroll
  for (__u32 k = 0; k < ETCPIPE_KERNEL_MAX_CLASSES; ++k) {
    if (ks->sum[k] > best) {
      best = ks->sum[k];
      cls = k;
    }
  }
  const __u32 trees = cfg->trees;
  kf->verdict = (cls + 1) | (trees != 0 ? best / trees : 0) << 16;
  if (best < cfg->min_score) {
    kf->state = ETCPIPE_KERNEL_TO_USER;
    s->kernel_to_user++;
    return;
  }
  __builtin_memset(&ks->verdict, 0, sizeof(ks->verdict));
  ks->verdict.verdict_ns = now;
  ks->verdict.kernel_verdict = kf->verdict;
  for (__u32 r = 0; r < ETCPIPE_KERNEL_MAX_RULES; ++r) {  // the first rule that matches
    if (r >= cfg->rules) break;
    if ((cfg->rule[r].cls == ETCPIPE_KERNEL_ANY || cfg->rule[r].cls == cls) &&
        best >= cfg->rule[r].min_score) {
      ks->verdict.action = cfg->rule[r].action;
      ks->verdict.kernel_verdict |= (r + 1) << 8;
      break;
    }
  }
  // An entry already there is user space's verdict (it came first): it stands.
  if (bpf_map_update_elem(&verdicts, &p->key, &ks->verdict, BPF_NOEXIST) != 0) {
    kf->state = ETCPIPE_KERNEL_TO_USER;
    s->kernel_to_user++;
    return;
  }
  kf->state = ETCPIPE_KERNEL_DECIDED;
  s->kernel_decided++;
}

// Inline mode: a copy of the frame for user space (-1: none could be made), then the frame
// goes to the other port.
static __always_inline int copy_frame(struct xdp_md *ctx, struct scratch *sc, __u32 len) {
  const __u32 cap = at_most(len, ETCPIPE_COPY_MAX);
  // A less-than test: kernel 6.1's verifier learns no lower bound from != 0.
  if (cap < ETH_HLEN || bpf_xdp_load_bytes(ctx, 0, sc->data, cap) != 0) return -1;
  sc->copy.ts_ns = bpf_ktime_get_ns();
  sc->copy.wire_len = len;
  sc->copy.cap_len = cap;
  return (int)bpf_ringbuf_output(&copies, sc, sizeof(struct etcpipe_copy) + cap, 0);
}

SEC("xdp")
int etcpipe_xdp(struct xdp_md *ctx) {
  __u32 zero = 0;
  struct scratch *sc = bpf_map_lookup_elem(&scratch, &zero);
  struct etcpipe_xdp_stats *s = bpf_map_lookup_elem(&stats, &zero);
  if (sc == 0 || s == 0) return XDP_PASS;
  s->packets++;
  const __u32 len = bpf_xdp_get_buff_len(ctx);
  const __u32 n = at_most(len, ETCPIPE_HEADER_BYTES);
  struct parsed p = {};
  __u32 action = ETCPIPE_ACTION_PASS;
  int known = 0;
  if (n >= ETH_HLEN && bpf_xdp_load_bytes(ctx, 0, sc->data, n) == 0 &&
      parse(sc->data, n, len, 0, &p) == 0) {
    action = act(&p, &known);
    if (!known) kernel_classify(&p, s);
  } else {
    s->unparsed++;
  }
  const int in_line = (etcpipe_mode & ETCPIPE_MODE_INLINE) != 0;
  if (action == ETCPIPE_ACTION_DROP) {
    s->dropped++;
    s->dropped_bytes += p.ip_bytes;
    return XDP_DROP;
  }
  if (action == ETCPIPE_ACTION_BYPASS) {
    s->bypassed++;
    s->bypassed_bytes += p.ip_bytes;
    if (!in_line) return XDP_PASS;
    s->forwarded++;
    return bpf_redirect_map(&ports, ctx->ingress_ifindex, XDP_PASS);
  }
  // No verdict (or pass): to user space.
  if (etcpipe_mode & ETCPIPE_MODE_XSK) {
    s->to_user++;
    return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
  }
  if (!in_line) return XDP_PASS;  // afpacket: the kernel's tap sees it on the stack's way
  if (copy_frame(ctx, sc, len) == 0) {
    s->to_user++;
  } else {
    s->copy_failed++;
    if (etcpipe_mode & ETCPIPE_MODE_FAIL_CLOSED) {
      s->fail_closed++;
      return XDP_DROP;
    }
  }
  s->forwarded++;
  return bpf_redirect_map(&ports, ctx->ingress_ifindex, XDP_PASS);
}

// afpacket: frames of bypassed flows reach the stack, and its packet tap; this filter keeps
// them from etcpipe's sockets (XDP counted them), and outgoing frames that arrived on a
// captured interface: user space reads each frame once, where XDP saw it arrive
// (PACKET_IGNORE_OUTGOING does not apply to a fanout group on kernel 6.1). Anything else
// is kept whole.
SEC("socket")
int etcpipe_socket(struct __sk_buff *skb) {
  if (skb->pkt_type == PACKET_OUTGOING) {
    // Forwarded from a captured interface: etcpipe read it there. The host's own frames (no
    // ingress interface) and those from other interfaces XDP never saw: kept.
    const __u32 from = skb->ingress_ifindex;
    return from != 0 && bpf_map_lookup_elem(&captured, &from) != 0 ? 0 : skb->len;
  }
  __u32 zero = 0;
  struct scratch *sc = bpf_map_lookup_elem(&scratch, &zero);
  if (sc == 0) return skb->len;
  const __u32 n = at_most(skb->len, ETCPIPE_HEADER_BYTES);
  struct parsed p = {};
  const __u32 hw_tag = skb->vlan_present ? (skb->vlan_tci | 0x10000u) : 0;
  if (n < ETH_HLEN || bpf_skb_load_bytes(skb, 0, sc->data, n) != 0 ||
      parse(sc->data, n, skb->len, hw_tag, &p) != 0) {
    return skb->len;
  }
  // A frame of a dropped flow here passed XDP before its verdict: user space reads it.
  struct etcpipe_flow_state *st = acting_entry(&p);
  if (st == 0 || st->action != ETCPIPE_ACTION_BYPASS) return skb->len;
  const __u32 d = p.dir & 1;
  if (__sync_fetch_and_add(&st->to_hide[d], -1) > 0) return 0;
  __sync_fetch_and_add(&st->to_hide[d], 1);  // XDP did not count it: user space does
  return skb->len;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
