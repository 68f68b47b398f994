#include "capture/user_filter.hpp"

#include <stdexcept>

#include "capture/bpf.hpp"

namespace etcpipe {

struct UserFilter::Program {
  ~Program() { pcap_freecode(&prog); }
  bpf_program prog{};
};

UserFilter::UserFilter(const std::string& expression, int dlt) {
  if (expression.empty()) return;
  bpf_program prog{};
  std::string error;
  if (!compile_bpf(expression, dlt, prog, error)) {
    throw std::runtime_error("bad filter expression '" + expression + "': " + error);
  }
  program_ = std::make_unique<Program>();
  program_->prog = prog;
}

UserFilter::~UserFilter() = default;

bool UserFilter::run(const uint8_t* data, uint32_t caplen, uint32_t wire_len) const {
  return bpf_filter(program_->prog.bf_insns, data, wire_len, caplen) != 0;
}

}  // namespace etcpipe
