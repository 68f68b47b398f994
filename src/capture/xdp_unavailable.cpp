// The XDP stages of a build without libxdp, libbpf, clang or bpftool: --capture afxdp,
// --inline-to and enforcement say so.
#include <stdexcept>

#include "capture/afxdp_source.hpp"
#include "capture/inline_source.hpp"
#include "capture/xdp_program.hpp"

namespace etcpipe {

bool have_xdp() {
  return false;
}

struct XdpProgram::Object {};

XdpProgram::XdpProgram(const XdpConfig&) {
  throw std::runtime_error(
      "this etcpipe was built without XDP (install libxdp-dev, libbpf-dev, clang and bpftool, "
      "and rebuild)");
}
XdpProgram::~XdpProgram() = default;
const XdpProgram::Link& XdpProgram::attach(const std::string&, unsigned) {
  throw std::logic_error("XdpProgram without XDP");
}
int XdpProgram::xsk_map() const {
  return -1;
}
int XdpProgram::verdict_map() const {
  return -1;
}
int XdpProgram::port_map() const {
  return -1;
}
int XdpProgram::copy_ring() const {
  return -1;
}
int XdpProgram::socket_filter() const {
  return -1;
}
bool XdpProgram::set_verdict(const etcpipe_flow_key&, const etcpipe_flow_state&) {
  return false;
}
bool XdpProgram::take_verdict(const etcpipe_flow_key&, etcpipe_flow_state&) {
  return false;
}
void XdpProgram::load_kernel_model(std::span<const etcpipe_kernel_node>,
                                   std::span<const etcpipe_kernel_leaf>,
                                   const etcpipe_kernel_config&) {
  throw std::logic_error("XdpProgram without XDP");
}
bool XdpProgram::kernel_flow(const etcpipe_flow_key&, etcpipe_kernel_flow&) const {
  return false;
}
bool XdpProgram::take_kernel_flow(const etcpipe_flow_key&, etcpipe_kernel_flow&) {
  return false;
}
int XdpProgram::run_on(std::span<const uint8_t>, uint32_t, uint32_t*) {
  return -1;
}
uint32_t XdpProgram::verified_instructions() const {
  return 0;
}
etcpipe_xdp_stats XdpProgram::stats() const {
  return {};
}
void note_xdp_mode(const XdpProgram::Link&, const LiveCaptureConfig&) {}

std::vector<std::unique_ptr<PacketSource>> open_afxdp_sources(const LiveCaptureConfig&, unsigned,
                                                              XdpProgram&) {
  throw std::logic_error("AF_XDP without XDP");
}
std::unique_ptr<PacketSource> open_inline_source(const LiveCaptureConfig&, const std::string&,
                                                 XdpProgram&) {
  throw std::logic_error("inline mode without XDP");
}

}  // namespace etcpipe
