// A BPF expression compiled for one link type and run on packets in user space, by the live
// sources that have no kernel filter (AF_XDP, DPDK). Its header leaves libpcap out, whose
// struct bpf_insn clashes with the kernel's (libbpf, libxdp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace etcpipe {

class UserFilter {
 public:
  // Empty expression: every packet matches. Throws std::runtime_error if it does not
  // compile for link type `dlt`.
  UserFilter(const std::string& expression, int dlt);
  ~UserFilter();
  UserFilter(const UserFilter&) = delete;
  UserFilter& operator=(const UserFilter&) = delete;

  bool match(const uint8_t* data, uint32_t caplen, uint32_t wire_len) const {
    return !program_ || run(data, caplen, wire_len);
  }

 private:
  struct Program;
  bool run(const uint8_t* data, uint32_t caplen, uint32_t wire_len) const;
  std::unique_ptr<Program> program_;
};

}  // namespace etcpipe
