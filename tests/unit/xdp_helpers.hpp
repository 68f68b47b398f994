// What the tests that run etcpipe's XDP program share: the program loaded for real, and a
// built frame's flow key as user space makes it.
#pragma once

#include <cstring>
#include <memory>

#include "capture/xdp_program.hpp"
#include "flow/flow_key.hpp"
#include "packet/decoder.hpp"
#include "unit/packet_builder.hpp"

namespace etcpipe::test {

// The XDP program, loaded for real; null (the test skips) where this build has no XDP or the
// process may not load BPF programs.
inline std::unique_ptr<XdpProgram> load_or_skip() {
  if (!have_xdp()) return nullptr;
  try {
    return std::make_unique<XdpProgram>(XdpConfig{});
  } catch (const std::exception&) {
    return nullptr;
  }
}

// The verdict map's key of a frame, as user space makes it (decoder, then FlowKey), and its
// IP length; true when the frame comes from the key's lo endpoint (false too when it does
// not decode).
inline bool user_key(const Bytes& frame, etcpipe_flow_key& key, uint32_t& ip_len) {
  DecodedPacket d;
  if (decode_packet(1, frame, uint32_t(frame.size()), {}, d) != Outcome::Ok) return false;
  FlowKey k;
  uint64_t hash;
  const bool from_lo = make_flow_key(d.tuple, k, hash);
  std::memcpy(&key, &k, sizeof key);
  ip_len = d.ip_len;
  return from_lo;
}

inline etcpipe_flow_key user_key(const Bytes& frame) {
  etcpipe_flow_key key{};
  uint32_t ip_len;
  user_key(frame, key, ip_len);
  return key;
}

}  // namespace etcpipe::test
