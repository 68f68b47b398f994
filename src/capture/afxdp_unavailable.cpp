// The AF_XDP source of a build without libxdp, libbpf, clang or bpftool: --capture afxdp
// says so.
#include <stdexcept>

#include "capture/afxdp_source.hpp"

namespace etcpipe {

bool have_afxdp() {
  return false;
}

std::vector<std::unique_ptr<PacketSource>> open_afxdp_sources(const LiveCaptureConfig&, unsigned) {
  throw std::runtime_error(
      "--capture afxdp: this etcpipe was built without AF_XDP (install libxdp-dev, "
      "libbpf-dev, clang and bpftool, and rebuild)");
}

}  // namespace etcpipe
