// Live capture through AF_XDP (libxdp's XSK sockets, libbpf): etcpipe's own XDP program
// (capture/xdp_program.hpp) is attached to each interface and redirects every frame of
// queue q to its XSK socket (but those of flows it drops or bypasses). Worker w reads the queues q
// of every interface with q mod W = w (every queue has a socket, or its frames would go to the
// stack unseen): the spread over workers is the NIC's RSS (set a symmetric key, e.g. ethtool -X
// IFACE hkey 6d:5a:..., for both directions of a flow to reach one worker) or, on veth, the
// sender's transmit queue (through the qdisc, the kernel's flow hash, which is symmetric; a packet
// socket that bypasses the qdisc picks it by its CPU). Every frame goes to etcpipe, none to the
// host's stack, while it runs. The program is attached in native (driver) mode where the driver has
// it, generic mode otherwise; the socket binds zero-copy where the driver supports it, copy mode
// otherwise.
//
// Frames are read in place from the UMEM and go back to the fill ring when the worker comes
// back for more. AF_XDP gives no receive timestamp on kernel 6.1: packets get the clock when
// they are read. The BPF expression runs in user space (filtered packets are counted).
// Packets the kernel dropped (rx_dropped, rx_ring_full of XDP_STATISTICS) are counted as
// kernel drops; times the fill ring was found empty as ring freezes.
#pragma once

#include <memory>
#include <vector>

#include "capture/live_capture.hpp"
#include "capture/xdp_program.hpp"

namespace etcpipe {

// Attaches `xdp` (loaded with ETCPIPE_MODE_XSK), opens one XSK socket per worker and interface, and
// returns one source per worker: all or nothing. Throws std::runtime_error with a one-line
// reason (privilege, interface, too few queues, attach refused).
std::vector<std::unique_ptr<PacketSource>> open_afxdp_sources(const LiveCaptureConfig& cfg,
                                                              unsigned workers, XdpProgram& xdp);

}  // namespace etcpipe
