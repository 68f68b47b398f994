#include "capture/xdp_program.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "capture/afpacket_socket.hpp"
#include "etcpipe_xdp.skel.h"

namespace etcpipe {

struct XdpProgram::Object {
  ~Object() {
    if (skel != nullptr) etcpipe_xdp::destroy(skel);
  }
  etcpipe_xdp* skel = nullptr;
};

bool have_xdp() {
  return true;
}

XdpProgram::XdpProgram(const XdpConfig& c)
    : object_(std::make_unique<Object>()), attach_mode_(c.attach) {
  etcpipe_xdp* skel = etcpipe_xdp::open();
  if (skel == nullptr) {
    throw std::runtime_error(std::string("XDP: cannot open etcpipe's BPF object: ") +
                             std::strerror(errno));
  }
  object_->skel = skel;
  skel->rodata->etcpipe_mode = c.mode;
  bpf_map__set_max_entries(skel->maps.verdicts, std::max(c.flows, 1u));
  bpf_map__set_max_entries(skel->maps.kernel_flows, std::max(c.flows, 1u));
  const auto page = static_cast<uint32_t>(sysconf(_SC_PAGESIZE));
  bpf_map__set_max_entries(skel->maps.copies,
                           std::bit_ceil(std::max(c.copy_ring_bytes, 16 * page)));
  if (const int rc = etcpipe_xdp::load(skel); rc != 0) {
    const int err = -rc;
    throw std::runtime_error(
        std::string("XDP: the kernel refused etcpipe's BPF programs: ") + std::strerror(err) +
        (err == EPERM ? " (etcpipe needs root, or CAP_BPF and CAP_NET_ADMIN)" : ""));
  }
}

XdpProgram::~XdpProgram() {
  for (const int fd : link_fds_) close(fd);
}

const XdpProgram::Link& XdpProgram::attach(const std::string& iface, unsigned ifindex) {
  using Mode = LiveCaptureConfig::XdpMode;
  const int prog = bpf_program__fd(object_->skel->progs.etcpipe_xdp);
  // Native mode where the driver has it (auto, native); generic mode (any driver, a copy per
  // frame) else (auto) or when asked for.
  std::vector<uint32_t> modes;
  if (attach_mode_ != Mode::Generic) modes.push_back(XDP_FLAGS_DRV_MODE);
  if (attach_mode_ != Mode::Native) modes.push_back(XDP_FLAGS_SKB_MODE);
  Link link{iface, ifindex, false, 0};
  int err = 0;
  for (const uint32_t mode : modes) {
    LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = mode);
    const int fd = bpf_link_create(prog, static_cast<int>(ifindex), BPF_XDP, &opts);
    if (fd >= 0) {
      link.native = mode == XDP_FLAGS_DRV_MODE;
      link_fds_.push_back(fd);
      const uint32_t index = ifindex;
      const uint8_t yes = 1;
      bpf_map_update_elem(bpf_map__fd(object_->skel->maps.captured), &index, &yes, BPF_ANY);
      links_.push_back(link);
      return links_.back();
    }
    err = errno;
    if (mode == XDP_FLAGS_DRV_MODE) link.native_error = err;
    if (err == EBUSY || err == EEXIST) {
      packet_socket_error(
          iface, "another XDP program is attached (ip link set dev " + iface + " xdp off)", err);
    }
  }
  if (attach_mode_ == Mode::Native) {
    packet_socket_error(iface,
                        "the driver refused native XDP (--xdp-mode generic, or auto, runs it in "
                        "the kernel's generic path)",
                        err);
  }
  packet_socket_error(iface, "the kernel refused to attach the XDP program", err);
}

int XdpProgram::xsk_map() const {
  return bpf_map__fd(object_->skel->maps.xsks);
}
int XdpProgram::verdict_map() const {
  return bpf_map__fd(object_->skel->maps.verdicts);
}
int XdpProgram::port_map() const {
  return bpf_map__fd(object_->skel->maps.ports);
}
int XdpProgram::copy_ring() const {
  return bpf_map__fd(object_->skel->maps.copies);
}
int XdpProgram::socket_filter() const {
  return bpf_program__fd(object_->skel->progs.etcpipe_socket);
}

bool XdpProgram::set_verdict(const etcpipe_flow_key& key, const etcpipe_flow_state& state) {
  return bpf_map_update_elem(verdict_map(), &key, &state, BPF_ANY) == 0;
}

bool XdpProgram::take_verdict(const etcpipe_flow_key& key, etcpipe_flow_state& state) {
  return bpf_map_lookup_and_delete_elem(verdict_map(), &key, &state) == 0;
}

void XdpProgram::load_kernel_model(std::span<const etcpipe_kernel_node> nodes,
                                   std::span<const etcpipe_kernel_leaf> leaves,
                                   const etcpipe_kernel_config& config) {
  auto put = [](bpf_map* map, uint32_t key, const void* value, const char* what) {
    if (bpf_map_update_elem(bpf_map__fd(map), &key, value, BPF_ANY) != 0) {
      throw std::runtime_error(std::string("XDP: cannot write the in-kernel model's ") + what +
                               ": " + std::strerror(errno));
    }
  };
  const auto& maps = object_->skel->maps;
  for (uint32_t i = 0; i < nodes.size(); ++i) put(maps.kernel_nodes, i, &nodes[i], "nodes");
  for (uint32_t i = 0; i < leaves.size(); ++i) put(maps.kernel_leaves, i, &leaves[i], "leaves");
  put(maps.kernel_config, 0, &config, "configuration");
  kernel_model_ = config.trees != 0;
}

bool XdpProgram::kernel_flow(const etcpipe_flow_key& key, etcpipe_kernel_flow& flow) const {
  return bpf_map_lookup_elem(bpf_map__fd(object_->skel->maps.kernel_flows), &key, &flow) == 0;
}

bool XdpProgram::take_kernel_flow(const etcpipe_flow_key& key, etcpipe_kernel_flow& flow) {
  return bpf_map_lookup_and_delete_elem(bpf_map__fd(object_->skel->maps.kernel_flows), &key,
                                        &flow) == 0;
}

int XdpProgram::run_on(std::span<const uint8_t> frame, uint32_t repeat, uint32_t* ns) {
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
              .data_size_in = static_cast<uint32_t>(frame.size()),
              .repeat = static_cast<int>(repeat));
  if (bpf_prog_test_run_opts(bpf_program__fd(object_->skel->progs.etcpipe_xdp), &opts) != 0) {
    return -errno;
  }
  if (ns != nullptr) *ns = opts.duration;
  return static_cast<int>(opts.retval);
}

uint32_t XdpProgram::verified_instructions() const {
  bpf_prog_info info{};
  uint32_t len = sizeof info;
  const int fd = bpf_program__fd(object_->skel->progs.etcpipe_xdp);
  return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.verified_insns : 0;
}

void note_xdp_mode(const XdpProgram::Link& link, const LiveCaptureConfig& cfg) {
  if (!cfg.note || link.native) return;
  if (cfg.xdp_mode == LiveCaptureConfig::XdpMode::Generic) {
    cfg.note(link.iface + ": the XDP program runs in generic mode, as asked (a copy per frame)");
  } else {
    cfg.note(link.iface + ": native XDP refused (" + std::strerror(link.native_error) +
             "): the program runs in generic mode (a copy per frame; on veth, every frame "
             "reaches queue 0; veth's native mode needs an MTU that fits a page)");
  }
}

etcpipe_xdp_stats XdpProgram::stats() const {
  const int cpus = libbpf_num_possible_cpus();
  std::vector<etcpipe_xdp_stats> per_cpu(static_cast<std::size_t>(std::max(cpus, 1)));
  etcpipe_xdp_stats sum{};
  const uint32_t key = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(object_->skel->maps.stats), &key, per_cpu.data()) != 0) {
    return sum;
  }
  // The struct is all __u64 counters: summed field by field as an array.
  constexpr std::size_t kFields = sizeof(etcpipe_xdp_stats) / sizeof(uint64_t);
  static_assert(kFields * sizeof(uint64_t) == sizeof(etcpipe_xdp_stats));
  auto* out = reinterpret_cast<uint64_t*>(&sum);
  for (const etcpipe_xdp_stats& s : per_cpu) {
    const auto* in = reinterpret_cast<const uint64_t*>(&s);
    for (std::size_t i = 0; i < kFields; ++i) out[i] += in[i];
  }
  return sum;
}

}  // namespace etcpipe
