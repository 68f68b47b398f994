#include "cli/input_options.hpp"

#include "capture/dpdk_source.hpp"
#include "capture/xdp_program.hpp"
#include "cli/pipeline_options.hpp"

namespace etcpipe::cli {

const std::string kLiveHelp =
    "Live capture (-i) runs until SIGINT/SIGTERM, --duration or -c, then ends every open\n"
    "flow (end-of-input) and exits 0. Flows end on their timeouts by the clock when the link\n"
    "is quiet. Each worker reads its own socket or queue; the kernel or the NIC spreads flows\n"
    "over them (no reader thread: one thread collects the records). Packets\n"
    "the kernel drops (ring full) are counted: packets received = packets read + kernel drops.\n";

void add_input_options(CLI::App* cmd, InputConfig& in, const std::string& filter_help) {
  auto* read = cmd->add_option("-r,--read", in.captures,
                               "Capture file (pcap or pcapng) or directory of captures; "
                               "repeatable")
                   ->allow_extra_args(false);
  LiveConfig& o = in.live;
  auto* group = cmd->add_option_group("Live capture", "Instead of -r: capture on interfaces");
  auto* iface = group
                    ->add_option("-i,--interface", o.interfaces,
                                 "Capture on this interface (repeatable: one flow table space "
                                 "for all); needs CAP_NET_RAW (root)")
                    ->allow_extra_args(false)
                    ->excludes(read);
  read->excludes(iface);
  group
      ->add_option("--capture", o.capture,
                   "afpacket: TPACKET_V3 rings, one socket per worker and interface in a "
                   "PACKET_FANOUT group spread by the kernel's symmetric flow hash, the BPF "
                   "expression run in the kernel. afxdp: etcpipe's XDP program redirects each "
                   "receive queue to an AF_XDP socket, queue q read by worker q mod W (RSS "
                   "spreads the flows: give the NIC a symmetric key), the BPF expression run "
                   "by etcpipe" +
                       std::string(have_xdp() ? "" : " (not in this build)") +
                       ". dpdk: -i names DPDK devices (a PCI address, or a vdev such as "
                       "net_af_packet0,iface=eth0 or net_pcap0,rx_pcap=FILE), one RX queue per "
                       "worker with symmetric RSS, the BPF expression run by etcpipe" +
                       std::string(have_dpdk() ? "" : " (not in this build)") + ".")
      ->capture_default_str()
      ->check(CLI::IsMember({"afpacket", "afxdp", "dpdk"}));
  group->add_option("--dpdk-eal", o.dpdk_eal,
                    "Extra DPDK EAL arguments, after etcpipe's own: --no-huge --no-shconf -m 512 "
                    "--log-level=error, --vdev/-a for each device, --no-pci without a PCI device");
  group
      ->add_option("--xdp-mode", o.xdp_mode,
                   "Where etcpipe's XDP program runs (afxdp, --inline-to, --enforce, --in-kernel): "
                   "native (in "
                   "the driver; refused "
                   "where the driver has no XDP), generic (the kernel's path for any driver, "
                   "a copy per frame), auto (native where the driver has it, else generic)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "native", "generic"}))
      ->needs(iface);
  auto* bridge =
      group
          ->add_option("--inline-to", o.inline_to,
                       "Inline mode, a bump in the wire: forward every frame between -i and "
                       "this interface in XDP (both ways), and analyse copies of the frames of "
                       "flows without a drop or bypass verdict (a BPF ring buffer of --ring-mb; "
                       "one worker). Stopping etcpipe unjoins the ports")
          ->needs(iface);
  group
      ->add_flag("--fail-closed", o.fail_closed,
                 "Inline mode: drop a frame that cannot be copied to etcpipe (its ring full) "
                 "rather than forward it unseen (the default, fail-open)")
      ->needs(bridge);
  group
      ->add_option("--ring-mb", o.ring_mb,
                   "Ring size in MiB: the TPACKET_V3 ring of each interface, shared by its "
                   "workers' sockets (2 MiB each at least) (afpacket); the UMEM of 4 KiB "
                   "frames of each receive queue, rounded down to a power of two (afxdp); "
                   "packets the kernel finds no room for are counted as kernel drops")
      ->capture_default_str()
      ->check(CLI::Range(1u, 65536u));
  group->add_option("--duration", o.duration, "Stop after this many seconds (0: at SIGINT/SIGTERM)")
      ->check(finite_number() & CLI::Range(0.0, 1e9))
      ->needs(iface);
  group->add_option("-c,--count", o.count, "Stop after this many packets (0: no limit)")
      ->needs(iface);
  cmd->add_option_function<std::vector<std::string>>(
      "filter", [&in](const std::vector<std::string>& words) { in.filter = join(words); },
      filter_help);
}

}  // namespace etcpipe::cli
