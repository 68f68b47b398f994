// What the AF_PACKET receiver and sender share: opening a packet socket on an interface
// with a one-line reason when it cannot be done.
#pragma once

#include <string>

namespace etcpipe {

// Throws std::runtime_error "DOING IFACE: WHAT[: strerror(err)]".
[[noreturn]] void packet_socket_error(const std::string& iface, const std::string& what,
                                      int err = 0, const char* doing = "live capture on");

struct PacketSocket {
  int fd;
  unsigned ifindex;
};

// The link type (DLT_*) of the frames an interface gives: Ethernet (and loopback), or raw
// IP (TUN devices, WireGuard). Throws for any other.
int interface_link_type(int fd, const std::string& iface);

// An AF_PACKET SOCK_RAW socket (protocol 0: it receives nothing until bound) for an
// interface that exists and is up. Throws (no privilege, no such interface, down).
PacketSocket open_packet_socket(const std::string& iface, const char* doing = "live capture on");

// The ifindex of an Ethernet interface that exists and is up, checked through a packet
// socket opened and closed here. Throws "DOING IFACE: WHAT" (`what`: why Ethernet is needed)
// for any other link type, and as open_packet_socket does.
unsigned ethernet_interface(const std::string& iface, const std::string& what,
                            const char* doing = "live capture on");

}  // namespace etcpipe
