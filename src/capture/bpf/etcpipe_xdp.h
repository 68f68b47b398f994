/* The layouts etcpipe's BPF programs (etcpipe_xdp.bpf.c) and user space share: the flow
 * verdict map's key and value, the program's counters and the copies of inline mode. One
 * definition, in C, compiled by clang -target bpf and by g++ (capture/xdp_program.hpp);
 * session/enforcement.cpp checks the key against flow/flow_key.hpp's FlowKey (static_assert),
 * tests/unit/enforcement_test.cpp the program's keys against the decoder's. */
#ifndef ETCPIPE_XDP_H
#define ETCPIPE_XDP_H

#include <linux/types.h>

/* etcpipe's canonical flow key, byte for byte (flow/flow_key.hpp): the (address, port)
 * endpoint that sorts lower comes first (addresses compared as big-endian bytes; an IPv4
 * address in the first 4 bytes, the rest zero), ports in host order, the innermost VLAN id
 * and the outer one of QinQ. The XDP program reads Ethernet, up to two VLAN tags, IPv4 or
 * IPv6 and TCP or UDP; it never sees a tunnel's inner flow (tunnel and tunnel_id stay 0). */
struct etcpipe_flow_key {
  __u8 lo_addr[16];
  __u8 hi_addr[16];
  __u16 lo_port;
  __u16 hi_port;
  __u8 proto;
  __u8 ip_version;
  __u16 vlan;
  __u16 vlan_outer;
  __u8 tunnel;
  __u8 reserved;
  __u32 tunnel_id;
};

/* What XDP does with a flow's packets from its verdict on. */
enum etcpipe_action {
  ETCPIPE_ACTION_PASS = 0,   /* nothing: to user space, as a flow without a verdict */
  ETCPIPE_ACTION_DROP = 1,   /* XDP_DROP */
  ETCPIPE_ACTION_BYPASS = 2, /* on to the stack or the other port, not to user space; TCP
                              * FIN and RST still go to user space, which ends the flow, and
                              * a frame every ETCPIPE_KEEPALIVE_NS */
};

/* A flow's entry in the verdict map: its action, set by user space, and what XDP did to its
 * packets since, each way (index 0: packets from the key's lo endpoint). Times are
 * bpf_ktime_get_ns (CLOCK_MONOTONIC). */
struct etcpipe_flow_state {
  __u32 action;
  __u32 tcp_flags[2];  /* OR of the TCP flags acted on */
  /* A verdict of the in-kernel classifier: its class + 1 in bits 0-7, the policy rule that
   * matched it + 1 in bits 8-15 (0: none), its confidence times 65535 in bits 16-31 (0: the
   * entry was written by user space). */
  __u32 kernel_verdict;
  /* afpacket: frames XDP counted and passed on (bypass) that the socket filter is still to
   * keep from user space, each way. Hiding no more than XDP counted keeps the counts exact
   * when a verdict is written between XDP and the kernel's tap for one frame. */
  __s64 to_hide[2];
  __u64 verdict_ns;    /* when user space wrote the action */
  __u64 first_ns;      /* the first packet acted on (0: none yet) */
  __u64 last_ns;       /* the last */
  __u64 shown_ns;      /* bypass: the last frame sent to user space to keep the flow alive */
  __u64 packets[2];
  __u64 bytes[2];      /* IP bytes (header + payload), as flow records count them */
};

/* A bypassed flow sends one frame (uncounted by XDP) to user space this often, so that its
 * flow, whose other frames user space no longer sees, does not end there by an idle
 * timeout while it goes on in the kernel (idle timeouts shorter than this split it). */
#define ETCPIPE_KEEPALIVE_NS 1000000000ull

/* The program's modes (its .rodata, set before it is loaded). */
#define ETCPIPE_MODE_XSK 1u         /* what user space needs goes to AF_XDP sockets */
#define ETCPIPE_MODE_INLINE 2u      /* forward between two ports; copies to user space */
#define ETCPIPE_MODE_FAIL_CLOSED 4u /* inline: a frame that cannot be copied is dropped */

/* The XDP program's counters, per CPU (summed by user space). */
struct etcpipe_xdp_stats {
  __u64 packets;        /* every frame seen */
  __u64 unparsed;       /* not TCP or UDP over IPv4/IPv6 (or a fragment): never acted on */
  __u64 dropped;        /* frames of flows with the drop action */
  __u64 dropped_bytes;  /* their IP bytes */
  __u64 bypassed;       /* frames of flows with the bypass action */
  __u64 bypassed_bytes;
  __u64 to_user;        /* sent to user space: redirected (AF_XDP) or copied (inline) */
  __u64 copy_failed;    /* inline: no room in the copy ring (user space behind) */
  __u64 fail_closed;    /* inline, fail-closed: frames dropped because no copy was made */
  __u64 forwarded;      /* inline: sent to the other port */
  __u64 kernel_decided; /* flows classified in the kernel, their verdict in the map */
  __u64 kernel_to_user; /* flows whose in-kernel confidence fell short: user space decides */
  __u64 kernel_unkept;  /* flows the kernel could not keep (kernel_flows refused an entry) */
};

/* Inline mode's copy of a frame in the ring buffer: this header, then cap_len bytes. */
struct etcpipe_copy {
  __u64 ts_ns; /* bpf_ktime_get_ns when the frame arrived */
  __u32 wire_len;
  __u32 cap_len;
};
#define ETCPIPE_COPY_MAX 2048u    /* bytes of a frame copied at most */
#define ETCPIPE_HEADER_BYTES 128u /* bytes parsed: Ethernet, 2 tags, IP with options, TCP */

/* In-kernel classification (etcpipe classify --in-kernel; docs/MODELS.md, "Classifying in
 * the kernel"). The XDP program keeps, per flow (kernel_flows), the first `packets` selected
 * packets' values (TCP or UDP packets with payload, as user space's default selection) as
 * 32-bit integers, in the layout of etcpipe_kernel_flow.value: input k's packet i at
 * k * ETCPIPE_KERNEL_MAX_PACKETS + i. At the flow's packets-th selected packet it runs the
 * forest of kernel_nodes from each tree's root: a node goes left when value[feature] <=
 * threshold; a leaf adds its scores (kernel_leaves) to the class sums. The class with the
 * largest sum (the first on a tie) is the verdict, its confidence the sum / trees / 65535;
 * with at least min_score, it is written into the verdict map with the action of the first
 * policy rule that matches it (class, or any, and score), else the flow is left to user
 * space. */
#define ETCPIPE_KERNEL_MAX_PACKETS 16u
#define ETCPIPE_KERNEL_MAX_CLASSES 32u
#define ETCPIPE_KERNEL_MAX_TREES 128u
#define ETCPIPE_KERNEL_MAX_DEPTH 24u /* nodes from a root to a leaf, the leaf included */
#define ETCPIPE_KERNEL_MAX_NODES 65536u
#define ETCPIPE_KERNEL_MAX_LEAVES 16384u
#define ETCPIPE_KERNEL_MAX_RULES 8u
#define ETCPIPE_KERNEL_LEAF 0xFFFFu /* the feature of a leaf */
#define ETCPIPE_KERNEL_ANY 0xFFFFFFFFu /* a rule's class: any */

/* The inputs, as their offsets in etcpipe_kernel_flow.value. */
enum etcpipe_kernel_input {
  ETCPIPE_KERNEL_SIZES = 0,    /* IP bytes; negative from the server */
  ETCPIPE_KERNEL_IATS = 1,     /* microseconds since the flow's previous selected packet */
  ETCPIPE_KERNEL_FLAGS = 2,    /* TCP flags */
  ETCPIPE_KERNEL_PAYLOADS = 3, /* payload bytes */
  ETCPIPE_KERNEL_INPUTS = 4,
};

struct etcpipe_kernel_node {
  __s32 threshold;
  __u16 feature; /* index in etcpipe_kernel_flow.value, or ETCPIPE_KERNEL_LEAF */
  __u16 reserved;
  __u32 left;  /* node index; a leaf: its index in kernel_leaves */
  __u32 right;
};

struct etcpipe_kernel_leaf {
  __u16 score[ETCPIPE_KERNEL_MAX_CLASSES];
};

struct etcpipe_kernel_config {
  __u32 trees; /* 0: no model loaded, no flow state kept */
  __u32 packets;
  __u32 min_score; /* a verdict's sum must reach this to be taken in the kernel */
  __u32 rules;
  __u32 root[ETCPIPE_KERNEL_MAX_TREES];
  struct {
    __u32 cls;       /* a class, or ETCPIPE_KERNEL_ANY */
    __u32 min_score; /* the sum from which the rule applies */
    __u32 action;    /* enum etcpipe_action */
  } rule[ETCPIPE_KERNEL_MAX_RULES];
};

/* A flow's state in the kernel until its verdict (kernel_flows). */
struct etcpipe_kernel_flow {
  __u64 last_ns; /* the last selected packet (bpf_ktime_get_ns) */
  __u8 count;    /* selected packets so far */
  __u8 client_is_lo;
  __u8 state; /* ETCPIPE_KERNEL_* below */
  __u8 reserved;
  __u32 verdict; /* as etcpipe_flow_state.kernel_verdict, once classified */
  __s32 value[ETCPIPE_KERNEL_INPUTS * ETCPIPE_KERNEL_MAX_PACKETS];
};
#define ETCPIPE_KERNEL_COLLECTING 0
#define ETCPIPE_KERNEL_DECIDED 1 /* in the verdict map */
#define ETCPIPE_KERNEL_TO_USER 2 /* below min_score, or user space's verdict came first */

#endif
