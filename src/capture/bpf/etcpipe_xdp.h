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
  __u32 reserved;
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
};

/* Inline mode's copy of a frame in the ring buffer: this header, then cap_len bytes. */
struct etcpipe_copy {
  __u64 ts_ns; /* bpf_ktime_get_ns when the frame arrived */
  __u32 wire_len;
  __u32 cap_len;
};
#define ETCPIPE_COPY_MAX 2048u    /* bytes of a frame copied at most */
#define ETCPIPE_HEADER_BYTES 128u /* bytes parsed: Ethernet, 2 tags, IP with options, TCP */

#endif
