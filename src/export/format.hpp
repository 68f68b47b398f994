// Text forms shared by the sinks.
#pragma once

#include <cstdint>
#include <string_view>

#include "packet/packet.hpp"

namespace etcpipe {

// Writes the address in its usual text form (dotted quad or RFC 5952) into `buf`
// (at least 46 bytes) and returns it.
std::string_view format_ip(const IpAddr& a, uint8_t ip_version, char* buf);

// "TCP", "UDP", "ICMP", ... or the protocol number.
std::string_view proto_name(uint8_t proto, char* buf);

}  // namespace etcpipe
