// Live capture through DPDK (Debian's libdpdk 22.11): one RX queue per worker on every
// port, with RSS on IP/TCP/UDP under the symmetric Toeplitz key (both directions of a flow
// to one queue) where the device offers RSS; virtual devices spread their queues their own
// way (net_af_packet: the kernel's fanout hash, with rollover under load). Packets are read
// in place from the mbufs, which go back to their pool when the worker comes back for more.
// The BPF expression runs in user space (filtered packets are counted). Time is the clock
// when a burst was read: a NIC's timestamps count from its own clock, and DPDK 22.11's
// af_packet driver gives none. Packets the device dropped (imissed, ierrors, rx_nombuf) are
// counted as kernel drops, by the first worker.
//
// A device is a PCI address (0000:01:00.0) or a virtual device with its arguments
// (net_af_packet0,iface=veth1 or net_pcap0,rx_pcap=FILE). EAL runs without hugepages
// (--no-huge --no-shconf) unless the extra EAL arguments say otherwise.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "capture/live_capture.hpp"

namespace etcpipe {

// Whether this build has DPDK.
bool have_dpdk();

// Initializes EAL (once per process), configures and starts the ports, and returns one
// source per worker. Throws std::runtime_error with a one-line reason.
std::vector<std::unique_ptr<PacketSource>> open_dpdk_sources(const LiveCaptureConfig& cfg,
                                                             unsigned workers);

}  // namespace etcpipe
