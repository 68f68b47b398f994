// Every packet that enters etcpipe ends with exactly one Outcome. Decode failures and skips
// are named reasons (in the spirit of Zeek's "weird" events), never exceptions or exits.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace etcpipe {

// X(enumerator, name printed in summaries and JSON)
#define ETCPIPE_OUTCOMES(X)                                     \
  X(Ok, "ok")                                                   \
  X(FilteredBpf, "filtered_bpf")                                \
  X(UnknownLinktype, "unknown_linktype")                        \
  X(NonIp, "non_ip")                                            \
  X(FragmentWithoutFirst, "fragment_without_first")             \
  X(TruncatedLink, "truncated_link_header")                     \
  X(TruncatedVlan, "truncated_vlan_header")                     \
  X(VlanStackTooDeep, "vlan_stack_too_deep")                    \
  X(TruncatedMpls, "truncated_mpls_header")                     \
  X(MplsStackTooDeep, "mpls_stack_too_deep")                    \
  X(TruncatedPppoe, "truncated_pppoe_header")                   \
  X(TruncatedIpv4, "truncated_ipv4_header")                     \
  X(BadIpVersion, "bad_ip_version")                             \
  X(BadIpv4HeaderLength, "bad_ipv4_header_length")              \
  X(BadIpv4TotalLength, "bad_ipv4_total_length")                \
  X(TruncatedIpv6, "truncated_ipv6_header")                     \
  X(BadIpv6PayloadLength, "bad_ipv6_payload_length")            \
  X(TruncatedIpv6Extension, "truncated_ipv6_extension_header")  \
  X(Ipv6ExtensionChainTooLong, "ipv6_extension_chain_too_long") \
  X(TruncatedTcp, "truncated_tcp_header")                       \
  X(BadTcpDataOffset, "bad_tcp_data_offset")                    \
  X(TruncatedUdp, "truncated_udp_header")                       \
  X(TruncatedIcmp, "truncated_icmp_header")                     \
  X(TruncatedSctp, "truncated_sctp_header")                     \
  X(TruncatedAh, "truncated_ah_header")

enum class Outcome : uint8_t {
#define ETCPIPE_OUTCOME_ENUM(e, s) e,
  ETCPIPE_OUTCOMES(ETCPIPE_OUTCOME_ENUM)
#undef ETCPIPE_OUTCOME_ENUM
};

inline constexpr std::size_t kOutcomeCount = 0
#define ETCPIPE_OUTCOME_COUNT(e, s) +1
    ETCPIPE_OUTCOMES(ETCPIPE_OUTCOME_COUNT)
#undef ETCPIPE_OUTCOME_COUNT
    ;

std::string_view outcome_name(Outcome o);

// Per-outcome packet counters, indexed by Outcome.
using OutcomeCounts = std::array<uint64_t, kOutcomeCount>;

}  // namespace etcpipe
