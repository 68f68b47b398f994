// A BPF expression (tcpdump syntax) matched against packets of batches, compiled by
// libpcap once per link type as batches of new link types arrive.
#pragma once

#include <pcap/pcap.h>

#include <map>
#include <memory>
#include <string>

#include "capture/packet_batch.hpp"

namespace etcpipe {

class BpfMatcher {
 public:
  // Empty expression: inactive. Throws std::runtime_error if it does not compile.
  explicit BpfMatcher(std::string expression);
  ~BpfMatcher();
  BpfMatcher(const BpfMatcher&) = delete;
  BpfMatcher& operator=(const BpfMatcher&) = delete;

  bool active() const { return !expr_.empty(); }
  // Whether packet i of the batch matches. A link type the expression cannot apply to
  // matches nothing.
  bool match(const PacketBatch& batch, uint32_t i);

 private:
  const bpf_program* program(int dlt);

  std::string expr_;
  std::map<int, std::unique_ptr<bpf_program>> programs_;  // null: does not compile
  int last_dlt_ = -1;
  const bpf_program* last_ = nullptr;
};

// Throws std::runtime_error naming the expression if it does not compile (for Ethernet).
void check_bpf(const std::string& expression);

// Compiles `expression` for link type `dlt` into `prog`; false with `error` set otherwise.
bool compile_bpf(const std::string& expression, int dlt, bpf_program& prog, std::string& error);

}  // namespace etcpipe
