// What the feature extractors produce for each flow: ETCpipe's [N, L] byte matrix and the
// sequence and statistics formats of the field. One FeatureSpec comes from command-line
// options or from a JSON file that travels with a model (to_json / from_json).
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace etcpipe {

// Where a packet's bytes in its row of the matrix start.
enum class ByteStart : uint8_t { Payload, L4, L3 };
// What becomes of IP addresses and L4 ports (and the checksums that cover them) when
// headers are in the matrix: kept, zeroed, or replaced by values random per flow.
enum class Anonymize : uint8_t { Keep, Zero, Random };

struct FeatureSpec {
  uint32_t packets = 10;  // N: the first N selected packets of a flow (1..255)
  uint32_t bytes = 1000;  // L: bytes per packet in the matrix
  ByteStart start = ByteStart::Payload;
  // With start L3/L4: the first `header_bytes` of the row hold the headers (truncated or
  // padded), the rest the payload (YaTC/NetMamba: 80 + 240). 0: L contiguous bytes.
  uint32_t header_bytes = 0;
  Anonymize addresses = Anonymize::Zero;
  bool zero_tcp_fields = true;  // TCP sequence and acknowledgment numbers, timestamps
  uint8_t pad = 0;              // value of the bytes past a packet's end
  uint64_t seed = 0;            // of the per-flow random addresses and ports
  bool matrix = true;           // [N, L] uint8
  bool sequences = true;        // [N] signed sizes, inter-arrival times, flags, payloads
  bool statistics = true;       // kStatCount floats per flow

  // Rejects inconsistent values with a message naming the option.
  void validate() const;
  nlohmann::json to_json() const;
  static FeatureSpec from_json(const nlohmann::json& j);
  static FeatureSpec load(const std::string& path);
  // Named layouts of published models: "etcpipe" (10 x 1000 payload), "yatc" (5 x (80
  // header from L3 + 240 payload)), "nepco" (5 x 128 payload).
  static FeatureSpec preset(std::string_view name);
  static std::vector<std::string_view> preset_names();
};

// A spec as a user chooses it: from a JSON file, a preset or the defaults, with single values
// over it (extract's options).
struct FeatureSpecChoice {
  std::string file;    // a spec JSON file
  std::string preset;  // FeatureSpec::preset_names()
  std::optional<uint32_t> packets, bytes, header_bytes;
  std::optional<std::string> start;      // payload, l4 or l3
  std::optional<std::string> anonymize;  // keep, zero or random
  std::optional<uint8_t> pad;
  std::optional<uint64_t> seed;
  bool keep_tcp_fields = false, no_matrix = false, no_sequences = false, no_stats = false;

  FeatureSpec make() const;  // validated (FeatureSpec::validate)
};

std::string_view byte_start_name(ByteStart s);
std::string_view anonymize_name(Anonymize a);
ByteStart parse_byte_start(std::string_view s);  // throws std::invalid_argument
Anonymize parse_anonymize(std::string_view s);

// Flow statistics computed over a flow's selected packets: for all packets, the client's
// ("fwd") and the server's ("bwd"): packets, IP bytes, size min/mean/max/std, inter-arrival
// time min/mean/max/std (seconds); then the duration and TCP flag counts.
#define ETCPIPE_DIR_STATS(X, d) \
  X(d##_packets)                \
  X(d##_bytes)                  \
  X(d##_size_min)               \
  X(d##_size_mean)              \
  X(d##_size_max) X(d##_size_std) X(d##_iat_min) X(d##_iat_mean) X(d##_iat_max) X(d##_iat_std)
#define ETCPIPE_STATS(X)    \
  ETCPIPE_DIR_STATS(X, all) \
  ETCPIPE_DIR_STATS(X, fwd) \
  ETCPIPE_DIR_STATS(X, bwd) \
  X(duration)               \
  X(fin_count)              \
  X(syn_count) X(rst_count) X(psh_count) X(ack_count) X(urg_count) X(ece_count) X(cwr_count)

inline constexpr std::size_t kStatCount = 0
#define ETCPIPE_STAT_COUNT(name) +1
    ETCPIPE_STATS(ETCPIPE_STAT_COUNT)
#undef ETCPIPE_STAT_COUNT
    ;
const std::vector<std::string>& stat_names();

}  // namespace etcpipe
