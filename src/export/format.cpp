#include "export/format.hpp"

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>

namespace etcpipe {

std::string_view format_ip(const IpAddr& a, uint8_t ip_version, char* buf) {
  if (ip_version != 6) {  // a dotted quad, as inet_ntop writes it
    char* p = buf;
    for (int i = 0; i < 4; ++i) {
      if (i > 0) *p++ = '.';
      const unsigned v = a.b[i];
      if (v >= 100) *p++ = static_cast<char>('0' + v / 100);
      if (v >= 10) *p++ = static_cast<char>('0' + v / 10 % 10);
      *p++ = static_cast<char>('0' + v % 10);
    }
    *p = '\0';
    return {buf, static_cast<std::size_t>(p - buf)};
  }
  if (inet_ntop(AF_INET6, a.b, buf, INET6_ADDRSTRLEN) == nullptr) buf[0] = '\0';
  return buf;
}

std::string_view proto_name(uint8_t proto, char* buf) {
  switch (proto) {
    case ipproto::kTcp: return "TCP";
    case ipproto::kUdp: return "UDP";
    case ipproto::kIcmp: return "ICMP";
    case ipproto::kIcmpv6: return "ICMPv6";
    case ipproto::kSctp: return "SCTP";
    case ipproto::kGre: return "GRE";
    case ipproto::kEsp: return "ESP";
    case ipproto::kAh: return "AH";
    default: break;
  }
  const int n = std::snprintf(buf, 4, "%u", proto);
  return {buf, static_cast<std::size_t>(n)};
}

}  // namespace etcpipe
