#!/usr/bin/env bash
# Installs what etcpipe needs to build and test, from Debian 12's archive. Run as root.
# Does nothing when everything is already there.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libpcap-dev libcli11-dev nlohmann-json3-dev libfmt-dev libreaderwriterqueue-dev
  libthrust-dev              # the batch feature extractor (Thrust, CPU system)
  libsqlite3-dev              # the sqlite: output
  libmariadb-dev mariadb-server  # the mysql: output, and the server its tests start
  libcpp-httplib-dev          # the --metrics and --web HTTP servers
  chromium                   # the --web page's test, in headless Chromium
  nfdump                      # nfcapd, the IPFIX collector the ipfix: output is tested against
  iproute2 tcpreplay tcpdump # the live capture tests: namespaces, veth pairs, replay, dump
  ethtool                    # the enforcement tests: offloads off, frames as on a wire
  libdpdk-dev                # live capture through DPDK (--capture dpdk)
  libxdp-dev libbpf-dev bpftool  # live capture through AF_XDP: XSK sockets, the XDP program
  googletest libgtest-dev libbenchmark-dev
  clang libclang-rt-14-dev   # libFuzzer and the sanitizer runtimes for the fuzz targets
  libtorch-dev               # the TorchScript inference engine
  python3 python3-numpy      # the CLI tests load the .npy datasets with numpy
  python3-torch python3-sklearn python3-matplotlib  # training and evaluation (python/)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi

# The traffic lab's test (tests/integration/lab_test.py): the servers of its two classes.
bash "$(dirname "$0")/../lab/install.sh" openvpn-udp https-http2
