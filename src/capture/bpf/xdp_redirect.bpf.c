// etcpipe's XDP program: every frame that arrives on a queue with an AF_XDP socket of
// etcpipe goes to that socket; a queue without one passes its frames to the stack. The
// enforcement and in-kernel classification stages will sit here, before the redirect.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

// One AF_XDP socket per receive queue (key: the queue index).
struct {
  __uint(type, BPF_MAP_TYPE_XSKMAP);
  __uint(max_entries, 256);
  __type(key, __u32);
  __type(value, __u32);
} xsks SEC(".maps");

SEC("xdp")
int etcpipe_xdp(struct xdp_md *ctx) {
  return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
