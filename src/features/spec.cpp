#include "features/spec.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace etcpipe {

std::string_view byte_start_name(ByteStart s) {
  switch (s) {
    case ByteStart::Payload: return "payload";
    case ByteStart::L4: return "l4";
    case ByteStart::L3: return "l3";
  }
  return "payload";
}

std::string_view anonymize_name(Anonymize a) {
  switch (a) {
    case Anonymize::Keep: return "keep";
    case Anonymize::Zero: return "zero";
    case Anonymize::Random: return "random";
  }
  return "zero";
}

ByteStart parse_byte_start(std::string_view s) {
  for (ByteStart b : {ByteStart::Payload, ByteStart::L4, ByteStart::L3}) {
    if (byte_start_name(b) == s) return b;
  }
  throw std::invalid_argument("byte start must be payload, l4 or l3, not '" + std::string(s) + "'");
}

Anonymize parse_anonymize(std::string_view s) {
  for (Anonymize a : {Anonymize::Keep, Anonymize::Zero, Anonymize::Random}) {
    if (anonymize_name(a) == s) return a;
  }
  throw std::invalid_argument("anonymization must be keep, zero or random, not '" + std::string(s) +
                              "'");
}

void FeatureSpec::validate() const {
  if (packets < 1 || packets > 255) throw std::invalid_argument("--packets must be 1..255");
  if (bytes > 65535) throw std::invalid_argument("--bytes must be 0..65535");
  if (matrix && bytes == 0) throw std::invalid_argument("--bytes must be > 0 for the matrix");
  if (header_bytes > bytes) throw std::invalid_argument("--header-bytes must be <= --bytes");
  if (header_bytes > 0 && start == ByteStart::Payload) {
    throw std::invalid_argument("--header-bytes needs --start l3 or l4");
  }
  if (!matrix && !sequences && !statistics) {
    throw std::invalid_argument("the feature spec produces nothing");
  }
}

nlohmann::json FeatureSpec::to_json() const {
  return {{"packets", packets},
          {"bytes", bytes},
          {"start", byte_start_name(start)},
          {"header_bytes", header_bytes},
          {"anonymize", anonymize_name(addresses)},
          {"zero_tcp_fields", zero_tcp_fields},
          {"pad", pad},
          {"seed", seed},
          {"matrix", matrix},
          {"sequences", sequences},
          {"statistics", statistics}};
}

FeatureSpec FeatureSpec::from_json(const nlohmann::json& j) {
  FeatureSpec s;
  static const char* const kKnown[] = {"packets",   "bytes",           "start",     "header_bytes",
                                       "anonymize", "zero_tcp_fields", "pad",       "seed",
                                       "matrix",    "sequences",       "statistics"};
  for (const auto& [key, value] : j.items()) {
    if (std::find(std::begin(kKnown), std::end(kKnown), key) == std::end(kKnown)) {
      throw std::invalid_argument("unknown feature spec field '" + key + "'");
    }
  }
  s.packets = j.value("packets", s.packets);
  s.bytes = j.value("bytes", s.bytes);
  s.start = parse_byte_start(j.value("start", std::string(byte_start_name(s.start))));
  s.header_bytes = j.value("header_bytes", s.header_bytes);
  s.addresses = parse_anonymize(j.value("anonymize", std::string(anonymize_name(s.addresses))));
  s.zero_tcp_fields = j.value("zero_tcp_fields", s.zero_tcp_fields);
  s.pad = j.value("pad", s.pad);
  s.seed = j.value("seed", s.seed);
  s.matrix = j.value("matrix", s.matrix);
  s.sequences = j.value("sequences", s.sequences);
  s.statistics = j.value("statistics", s.statistics);
  s.validate();
  return s;
}

FeatureSpec FeatureSpec::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open feature spec " + path);
  try {
    return from_json(nlohmann::json::parse(in));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path + ": " + e.what());
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

std::vector<std::string_view> FeatureSpec::preset_names() {
  return {"etcpipe", "yatc", "nepco"};
}

FeatureSpec FeatureSpecChoice::make() const {
  FeatureSpec s = !file.empty()     ? FeatureSpec::load(file)
                  : !preset.empty() ? FeatureSpec::preset(preset)
                                    : FeatureSpec{};
  s.packets = packets.value_or(s.packets);
  s.bytes = bytes.value_or(s.bytes);
  if (start) s.start = parse_byte_start(*start);
  s.header_bytes = header_bytes.value_or(s.header_bytes);
  if (anonymize) s.addresses = parse_anonymize(*anonymize);
  s.zero_tcp_fields = s.zero_tcp_fields && !keep_tcp_fields;
  s.pad = pad.value_or(s.pad);
  s.seed = seed.value_or(s.seed);
  s.matrix = s.matrix && !no_matrix;
  s.sequences = s.sequences && !no_sequences;
  s.statistics = s.statistics && !no_stats;
  s.validate();
  return s;
}

FeatureSpec FeatureSpec::preset(std::string_view name) {
  FeatureSpec s;
  if (name == "etcpipe") return s;
  if (name == "yatc") {
    s.packets = 5;
    s.bytes = 320;
    s.start = ByteStart::L3;
    s.header_bytes = 80;
    return s;
  }
  if (name == "nepco") {
    s.packets = 5;
    s.bytes = 128;
    return s;
  }
  throw std::invalid_argument("unknown preset '" + std::string(name) + "' (etcpipe, yatc, nepco)");
}

const std::vector<std::string>& stat_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
#define ETCPIPE_STAT_NAME(n) v.emplace_back(#n);
    ETCPIPE_STATS(ETCPIPE_STAT_NAME)
#undef ETCPIPE_STAT_NAME
    return v;
  }();
  return names;
}

}  // namespace etcpipe
