// Where the labels of a dataset come from (the ways public ETC datasets are distributed):
//  - a CSV mapping: header `capture,label` (by file name or path) or
//    `src,sport,dst,dport,proto,label` (a 5-tuple, either direction);
//  - a directory layout: the class is the name of the directory holding the capture;
//  - nDPI result files (DIR/NAME.out for capture NAME, as ../shared/data/ndpi/result):
//    the application part of the detected protocol ("Amazon" of "TLS.Amazon"), optionally
//    only for flows nDPI marks [Encrypted] and with at least k packets each way.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "features/rows.hpp"

namespace etcpipe {

class Labeler {
 public:
  virtual ~Labeler() = default;
  // The label of flow `f` of `capture` (its path), or nullopt to leave the flow out.
  virtual std::optional<std::string> label(const std::string& capture, const FlowInfo& f) = 0;
};

struct NdpiLabelOptions {
  bool encrypted_only = false;
  uint32_t min_packets_each_way = 0;
};

// Each throws std::runtime_error with the file and line of a problem.
std::unique_ptr<Labeler> csv_labels(const std::string& path);
std::unique_ptr<Labeler> directory_labels();
std::unique_ptr<Labeler> ndpi_labels(const std::string& result_dir, NdpiLabelOptions o);

// "ip:port" as nDPI writes it ("[v6]:port" for IPv6).
std::string endpoint_string(const IpAddr& a, uint8_t ip_version, uint16_t port);
// The application part of an nDPI protocol name: "Amazon" of "TLS.Amazon", "TLS" of "TLS".
std::string ndpi_application(const std::string& protocol);

}  // namespace etcpipe
