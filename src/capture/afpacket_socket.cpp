#include "capture/afpacket_socket.hpp"

#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <pcap/dlt.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace etcpipe {

void packet_socket_error(const std::string& iface, const std::string& what, int err,
                         const char* doing) {
  std::string msg = std::string(doing) + " " + iface + ": " + what;
  if (err != 0) msg += std::string(": ") + std::strerror(err);
  throw std::runtime_error(msg);
}

int interface_link_type(int fd, const std::string& iface) {
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, iface.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) != 0)
    packet_socket_error(iface, "cannot read its link type", errno);
  switch (ifr.ifr_hwaddr.sa_family) {
    case ARPHRD_ETHER:
    case ARPHRD_LOOPBACK: return DLT_EN10MB;
    case ARPHRD_NONE: return DLT_RAW;  // TUN devices, WireGuard: bare IP packets
    default:
      packet_socket_error(iface,
                          "link type (ARPHRD " + std::to_string(ifr.ifr_hwaddr.sa_family) +
                              ") not supported: Ethernet, loopback and raw IP interfaces are");
  }
}

PacketSocket open_packet_socket(const std::string& iface, const char* doing) {
  if (iface.empty() || iface.size() >= IFNAMSIZ)
    packet_socket_error(iface, "not an interface name", 0, doing);
  const int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    if (errno == EPERM || errno == EACCES) {
      packet_socket_error(
          iface, "needs CAP_NET_RAW: run etcpipe as root (or setcap cap_net_raw,cap_net_admin+ep)",
          0, doing);
    }
    packet_socket_error(iface, "cannot open an AF_PACKET socket", errno, doing);
  }
  auto close_and_fail = [fd, &iface, doing](const std::string& what, int err = 0) {
    close(fd);
    packet_socket_error(iface, what, err, doing);
  };
  const unsigned ifindex = if_nametoindex(iface.c_str());
  if (ifindex == 0) close_and_fail("no such interface");
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, iface.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) close_and_fail("cannot read its state", errno);
  if ((ifr.ifr_flags & IFF_UP) == 0) close_and_fail("the interface is down");
  return {fd, ifindex};
}

unsigned ethernet_interface(const std::string& iface, const std::string& what, const char* doing) {
  const PacketSocket probe = open_packet_socket(iface, doing);
  int dlt = -1;
  try {
    dlt = interface_link_type(probe.fd, iface);
  } catch (...) {
    close(probe.fd);
    throw;
  }
  close(probe.fd);
  if (dlt != DLT_EN10MB) packet_socket_error(iface, what, 0, doing);
  return probe.ifindex;
}

}  // namespace etcpipe
