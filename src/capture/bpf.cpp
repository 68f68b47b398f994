#include "capture/bpf.hpp"

#include <stdexcept>

namespace etcpipe {

bool compile_bpf(const std::string& expression, int dlt, bpf_program& prog, std::string& error) {
  pcap_t* dead = pcap_open_dead(dlt, PacketBatch::kMaxPacket);
  const bool ok = pcap_compile(dead, &prog, expression.c_str(), 1, PCAP_NETMASK_UNKNOWN) == 0;
  if (!ok) error = pcap_geterr(dead);
  pcap_close(dead);
  return ok;
}

void check_bpf(const std::string& expression) {
  bpf_program prog{};
  std::string error;
  if (!compile_bpf(expression, DLT_EN10MB, prog, error)) {
    throw std::runtime_error("bad filter expression '" + expression + "': " + error);
  }
  pcap_freecode(&prog);
}

BpfMatcher::BpfMatcher(std::string expression) : expr_(std::move(expression)) {
  if (active()) check_bpf(expr_);
}

BpfMatcher::~BpfMatcher() {
  for (auto& [dlt, prog] : programs_) {
    if (prog) pcap_freecode(prog.get());
  }
}

const bpf_program* BpfMatcher::program(int dlt) {
  if (dlt == last_dlt_) return last_;
  auto it = programs_.find(dlt);
  if (it == programs_.end()) {
    auto prog = std::make_unique<bpf_program>();
    std::string error;
    if (!compile_bpf(expr_, dlt, *prog, error)) prog.reset();
    it = programs_.emplace(dlt, std::move(prog)).first;
  }
  last_dlt_ = dlt;
  last_ = it->second.get();
  return last_;
}

bool BpfMatcher::match(const PacketBatch& batch, uint32_t i) {
  const bpf_program* prog = program(batch.dlt);
  if (prog == nullptr) return false;
  const auto bytes = batch.bytes(i);
  return bpf_filter(prog->bf_insns, bytes.data(), batch.ref(i).wire_len,
                    static_cast<u_int>(bytes.size())) != 0;
}

}  // namespace etcpipe
