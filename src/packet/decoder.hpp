// Packet decoder: link layer -> (VLAN/MPLS/PPPoE) -> IPv4/IPv6 (+ extension headers,
// fragments) -> TCP/UDP/ICMP/SCTP, decapsulating IP-in-IP, GRE, VXLAN and GTP-U tunnels
// to the inner flow. Never reads past the captured bytes.
#pragma once

#include <span>

#include "packet/outcome.hpp"
#include "packet/packet.hpp"

namespace etcpipe {

struct DecoderOptions {
  bool decapsulate = true;  // follow tunnels to the inner flow (--no-decap turns it off)
};

// True for the link types decode_packet understands.
bool linktype_supported(int dlt);

// Decodes one captured packet. `data` holds the captured bytes (caplen), `wire_len` the
// original length. On Outcome::Ok `out` describes the innermost IP packet; otherwise the
// outcome names why the packet could not be attributed to a flow. `out.ts_ns` is left as is.
Outcome decode_packet(int dlt, std::span<const uint8_t> data, uint32_t wire_len,
                      const DecoderOptions& opts, DecodedPacket& out);

}  // namespace etcpipe
