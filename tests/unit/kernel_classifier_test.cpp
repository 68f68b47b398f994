// The in-kernel classifier: the integer model's loader and its user-space prediction, and
// the XDP program's features and verdicts against that prediction (the program run by the
// kernel on built frames: root only).
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <cstdio>
#include <fstream>
#include <random>

#include "capture/xdp_program.hpp"
#include "flow/flow_key.hpp"
#include "packet/decoder.hpp"
#include "session/kernel_model.hpp"
#include "unit/packet_builder.hpp"
#include "unit/xdp_helpers.hpp"

namespace etcpipe {
namespace {

using namespace etcpipe::test;

constexpr uint32_t kN = ETCPIPE_KERNEL_MAX_PACKETS;

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

// One tree: the first packet's size <= 100 -> class 0; else class 1, sure of it only when
// the second packet came more than 5 ms after the first.
const char* kTiny = R"({"format": "etcpipe-kernel-trees/1", "packets": 2,
  "inputs": ["sizes", "iats"], "classes": 2, "trees": [{"feature": [0, -1, 3, -1, -1],
  "threshold": [100, 0, 5000, 0, 0], "left": [1, -1, 3, -1, -1], "right": [2, -1, 4, -1, -1],
  "score": [[], [65535, 0], [], [30000, 35535], [0, 65535]]}]})";

TEST(KernelModel, PredictsAsTheKernelOnItsValueLayout) {
  const KernelModel m = KernelModel::load(write_temp("tiny.json", kTiny));
  EXPECT_EQ(m.packets(), 2u);
  EXPECT_EQ(m.trees(), 1u);
  ASSERT_EQ(m.leaves().size(), 3u);
  // Feature 3 of the model is input 1 (iats), packet 1: its place in the kernel's values.
  EXPECT_EQ(m.nodes()[2].feature, ETCPIPE_KERNEL_IATS * kN + 1);
  int32_t v[ETCPIPE_KERNEL_INPUTS * kN] = {};
  v[0] = 100;
  EXPECT_EQ(m.predict(v).cls, 0u);
  EXPECT_EQ(m.predict(v).confidence, 65535u);
  v[0] = -1500;  // from the server: negative, and <= 100
  EXPECT_EQ(m.predict(v).cls, 0u);
  v[0] = 101;
  const KernelModel::Verdict w = m.predict(v);
  EXPECT_EQ(w.cls, 1u);
  EXPECT_EQ(w.confidence, 35535u);
  EXPECT_EQ(w.encoded(), 2u | 35535u << 16);
  v[ETCPIPE_KERNEL_IATS * kN + 1] = 5001;
  EXPECT_EQ(m.predict(v).confidence, 65535u);
  EXPECT_EQ(m.score_for(0.5f), 32768u);  // ceil(0.5 * 65535 * 1 tree)
}

TEST(KernelModel, RefusesModelsTheKernelCannotRunWithTheLimits) {
  const std::string ok = kTiny;
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = ok;
    s.replace(s.find(from), from.size(), to);
    return write_temp("bad.json", s);
  };
  for (const auto& [from, to, says] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"\"packets\": 2", "\"packets\": 17", "packets 17"},
           {"\"classes\": 2", "\"classes\": 33", "classes 33"},
           {"\"iats\"]", "\"stats\"]", "not kept in the kernel"},
           {"\"left\": [1,", "\"left\": [0,", "out of range"},
           {"[0, 65535]", "[0, 65536]", "exceeds 65535"},
           {"etcpipe-kernel-trees/1", "etcpipe-trees/1", "format"}}) {
    try {
      KernelModel::load(with(from, to));
      ADD_FAILURE() << "accepted: " << to;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(KernelModel::load(testing::TempDir() + "/missing.json"), std::runtime_error);
}

// Every in-kernel verdict equals the user-space prediction of the same model on the values
// the kernel kept, flow by flow; the values are those of the frames sent (sizes signed by
// direction, payloads, flags), the first frame's sender the client, empty frames skipped.
TEST(KernelClassifier, EveryKernelVerdictEqualsTheUserSpacePredictionOfItsValues) {
  auto xdp = load_or_skip();
  if (!xdp) GTEST_SKIP() << "cannot load BPF programs here (no XDP in this build, or not root)";
  const KernelModel m = KernelModel::load(std::string(ETCPIPE_MODELS) + "/kernel/kernel.json");
  xdp->load_kernel_model(m.nodes(), m.leaves(), m.config(0));
  std::mt19937 rng(7);
  std::vector<uint32_t> classes_seen(m.classes());
  for (uint16_t flow = 0; flow < 400; ++flow) {
    const bool tcp = flow % 3 != 0;
    const uint16_t cport = uint16_t(20000 + flow), sport = tcp ? 443 : 53;
    auto frame = [&](bool from_client, uint8_t flags, std::size_t payload) {
      const Bytes data(payload, uint8_t(flow));
      const Bytes l4 = tcp ? (from_client ? test::tcp(cport, sport, flags, data)
                                          : test::tcp(sport, cport, flags, data))
                           : (from_client ? udp(cport, sport, data) : udp(sport, cport, data));
      const uint8_t proto = tcp ? 6 : 17;
      return from_client ? eth(0x0800, ipv4(kA, kC, proto, l4))
                         : eth(0x0800, ipv4(kC, kA, proto, l4));
    };
    if (tcp) {
      ASSERT_EQ(xdp->run_on(frame(true, 0x02, 0)), XDP_PASS);  // SYN: no payload
    }
    std::vector<int32_t> sizes, payloads;
    for (uint32_t i = 0; i < m.packets(); ++i) {
      const bool from_client = i == 0 || rng() % 2 == 0;
      const std::size_t payload = 1 + rng() % 1400;
      const Bytes f = frame(from_client, 0x18, payload);
      ASSERT_EQ(xdp->run_on(f), XDP_PASS);
      const auto ip_len = int32_t(f.size() - 14);
      sizes.push_back(from_client ? ip_len : -ip_len);
      payloads.push_back(int32_t(payload));
      if (tcp && i == 1) {
        ASSERT_EQ(xdp->run_on(frame(!from_client, 0x10, 0)), XDP_PASS);  // an empty ACK
      }
    }
    const etcpipe_flow_key key = user_key(frame(true, 0x18, 1));
    etcpipe_kernel_flow kf{};
    ASSERT_TRUE(xdp->take_kernel_flow(key, kf)) << "flow " << flow;
    ASSERT_EQ(kf.state, ETCPIPE_KERNEL_DECIDED);
    ASSERT_EQ(kf.count, m.packets());
    for (uint32_t i = 0; i < m.packets(); ++i) {
      EXPECT_EQ(kf.value[ETCPIPE_KERNEL_SIZES * kN + i], sizes[i]);
      EXPECT_EQ(kf.value[ETCPIPE_KERNEL_PAYLOADS * kN + i], payloads[i]);
      EXPECT_EQ(kf.value[ETCPIPE_KERNEL_FLAGS * kN + i], tcp ? 0x18 : 0);
      EXPECT_GE(kf.value[ETCPIPE_KERNEL_IATS * kN + i], 0);
    }
    const KernelModel::Verdict expect = m.predict(kf.value);
    EXPECT_EQ(kf.verdict, expect.encoded()) << "flow " << flow;
    etcpipe_flow_state st{};
    ASSERT_TRUE(xdp->take_verdict(key, st));
    EXPECT_EQ(st.kernel_verdict, expect.encoded());
    EXPECT_EQ(st.action, ETCPIPE_ACTION_PASS);
    ++classes_seen[expect.cls];
  }
  // The flows reached more than one class: the comparison is not of one constant.
  EXPECT_GT(
      std::count_if(classes_seen.begin(), classes_seen.end(), [](uint32_t n) { return n > 0; }), 1);
  const etcpipe_xdp_stats s = xdp->stats();
  EXPECT_EQ(s.kernel_decided, 400u);
  EXPECT_EQ(s.kernel_to_user, 0u);
}

TEST(KernelClassifier, ALowConfidenceGoesToUserSpaceAndAClassActionApplies) {
  auto xdp = load_or_skip();
  if (!xdp) GTEST_SKIP() << "cannot load BPF programs here (no XDP in this build, or not root)";
  const KernelModel m = KernelModel::load(write_temp("tiny2.json", kTiny));
  // Class 0 (first size <= 100) is dropped; class 1's flows reach only 35535 of 65535.
  etcpipe_kernel_config c = m.config(m.score_for(0.6f));
  c.rules = 2;
  c.rule[0] = {1, 0, ETCPIPE_ACTION_BYPASS};  // class 1: never sure enough to get here
  c.rule[1] = {0, m.score_for(0.9f), ETCPIPE_ACTION_DROP};
  xdp->load_kernel_model(m.nodes(), m.leaves(), c);
  auto frame = [](uint16_t port, std::size_t payload) {
    return eth(0x0800, ipv4(kA, kC, 17, udp(port, 53, Bytes(payload, 1))));
  };
  // Two packets each, well within 5 ms of each other: class 1's flow is not sure enough.
  for (const uint16_t port : {uint16_t{1000}, uint16_t{2000}}) {
    const std::size_t first = port == 1000 ? 10 : 500;
    EXPECT_EQ(xdp->run_on(frame(port, first)), XDP_PASS);
    EXPECT_EQ(xdp->run_on(frame(port, 20)), XDP_PASS);
  }
  EXPECT_EQ(xdp->run_on(frame(1000, 20)), XDP_DROP);  // decided in the kernel: dropped
  EXPECT_EQ(xdp->run_on(frame(2000, 20)), XDP_PASS);
  etcpipe_kernel_flow kf{};
  ASSERT_TRUE(xdp->take_kernel_flow(user_key(frame(2000, 1)), kf));
  EXPECT_EQ(kf.state, ETCPIPE_KERNEL_TO_USER);
  etcpipe_flow_state st{};
  EXPECT_FALSE(xdp->take_verdict(user_key(frame(2000, 1)), st));  // user space decides
  ASSERT_TRUE(xdp->take_verdict(user_key(frame(1000, 1)), st));
  EXPECT_EQ(st.action, ETCPIPE_ACTION_DROP);
  EXPECT_EQ(st.kernel_verdict, 1u | 2u << 8 | 65535u << 16);  // class 0, rule 2
  EXPECT_EQ(xdp->stats().kernel_to_user, 1u);
}

}  // namespace
}  // namespace etcpipe
