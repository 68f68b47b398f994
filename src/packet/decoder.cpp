#include "packet/decoder.hpp"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "packet/decode_context.hpp"

namespace etcpipe {
namespace {
constexpr int kSupportedLinktypes[] = {
    linktype::kNull,     linktype::kEthernet,  linktype::kPpp,         linktype::kRaw,
    linktype::kRawAlt,   linktype::kPppSerial, linktype::kLinktypeRaw, linktype::kCiscoHdlc,
    linktype::kLoop,     linktype::kLinuxSll,  linktype::kIpv4,        linktype::kIpv6,
    linktype::kLinuxSll2};
}  // namespace

const char* tunnel_name(TunnelType t) {
  switch (t) {
    case TunnelType::None: return "none";
    case TunnelType::IpInIp: return "ipip";
    case TunnelType::Gre: return "gre";
    case TunnelType::Vxlan: return "vxlan";
    case TunnelType::GtpU: return "gtpu";
  }
  return "none";
}

bool linktype_supported(int dlt) {
  return std::find(std::begin(kSupportedLinktypes), std::end(kSupportedLinktypes), dlt) !=
         std::end(kSupportedLinktypes);
}

Outcome decode_packet(int dlt, std::span<const uint8_t> data, uint32_t wire_len,
                      const DecoderOptions& opts, DecodedPacket& out) {
  // Reset by a copy of a constant empty packet: vector moves. `out = DecodedPacket{}` built
  // the temporary on the stack (rep stos, then a byte store read back as a vector: a
  // store-forwarding stall per packet), and constructing in place still cleared with rep stos.
  static constexpr DecodedPacket kEmpty{};
  static_assert(std::is_trivially_copyable_v<DecodedPacket>);
  const uint64_t ts = out.ts_ns;
  std::memcpy(&out, &kEmpty, sizeof out);
  out.ts_ns = ts;
  out.link_type = dlt;
  out.cap_len = static_cast<uint32_t>(data.size());
  // A record claiming fewer bytes on the wire than captured is hostile or broken: trust
  // what we hold.
  out.wire_len = std::max(wire_len, out.cap_len);
  detail::Context c{detail::Bytes{data}, out.wire_len, opts, out};
  return detail::decode_link(c, dlt);
}

}  // namespace etcpipe
