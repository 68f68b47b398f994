// The DPDK source of a build without libdpdk: --capture dpdk says so.
#include <stdexcept>

#include "capture/dpdk_source.hpp"

namespace etcpipe {

bool have_dpdk() {
  return false;
}

std::vector<std::unique_ptr<PacketSource>> open_dpdk_sources(const LiveCaptureConfig&, unsigned) {
  throw std::runtime_error(
      "--capture dpdk: this etcpipe was built without DPDK (install libdpdk-dev and rebuild)");
}

}  // namespace etcpipe
