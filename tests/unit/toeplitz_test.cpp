#include "pipeline/toeplitz.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <random>

namespace etcpipe {
namespace {

PacketTuple tuple(int af, const char* src, const char* dst, uint16_t sport, uint16_t dport) {
  PacketTuple t{};
  t.ip_version = af == AF_INET6 ? 6 : 4;
  EXPECT_EQ(inet_pton(af, src, t.src.b), 1);
  EXPECT_EQ(inet_pton(af, dst, t.dst.b), 1);
  t.sport = sport;
  t.dport = dport;
  return t;
}

struct Vector {
  int af;
  const char* dst;
  uint16_t dport;
  const char* src;
  uint16_t sport;
  uint32_t l3;
  uint32_t l3l4;
};

// Microsoft, "Verifying the RSS Hash Calculation" (windows-driver-docs), the same vectors
// as Intel 82599 datasheet 7.1.2.8.3.
const Vector kVectors[] = {
    {AF_INET, "161.142.100.80", 1766, "66.9.149.187", 2794, 0x323e8fc2, 0x51ccc178},
    {AF_INET, "65.69.140.83", 4739, "199.92.111.2", 14230, 0xd718262a, 0xc626b0ea},
    {AF_INET, "12.22.207.184", 38024, "24.19.198.95", 12898, 0xd2d0a5de, 0x5c2b394a},
    {AF_INET, "209.142.163.6", 2217, "38.27.205.30", 48228, 0x82989176, 0xafc7327f},
    {AF_INET, "202.188.127.2", 1303, "153.39.163.191", 44251, 0x5d1809c5, 0x10e828a2},
    {AF_INET6, "3ffe:2501:200:3::1", 1766, "3ffe:2501:200:1fff::7", 2794, 0x2cc18cd5, 0x40207d3d},
    {AF_INET6, "ff02::1", 4739, "3ffe:501:8::260:97ff:fe40:efab", 14230, 0x0f0c461c, 0xdde51bbf},
    {AF_INET6, "fe80::200:f8ff:fe21:67cf", 38024, "3ffe:1900:4545:3:200:f8ff:fe21:67cf", 44251,
     0x4b61e985, 0x02d1feef},
};

TEST(Toeplitz, MicrosoftVerificationVectors) {
  const ToeplitzHash h(kMicrosoftRssKey);
  for (const auto& v : kVectors) {
    EXPECT_EQ(h.hash_tuple(tuple(v.af, v.src, v.dst, 0, 0)), v.l3) << v.src;
    EXPECT_EQ(h.hash_tuple(tuple(v.af, v.src, v.dst, v.sport, v.dport)), v.l3l4) << v.src;
  }
}

TEST(Toeplitz, RawInputMatchesTupleForm) {
  const ToeplitzHash h(kMicrosoftRssKey);
  const uint8_t input[] = {66, 9, 149, 187, 161, 142, 100, 80, 0x0a, 0xea, 0x06, 0xe6};
  EXPECT_EQ(h.hash(input), 0x51ccc178u);
}

TEST(Toeplitz, SymmetricKeyGivesTheSameHashBothWays) {
  const ToeplitzHash sym(kSymmetricRssKey);
  const ToeplitzHash ms(kMicrosoftRssKey);
  std::mt19937_64 rng(42);
  int ms_asymmetric = 0;
  for (int i = 0; i < 10000; ++i) {
    PacketTuple t{};
    t.ip_version = (i % 2) ? 6 : 4;
    for (int b = 0; b < (t.ip_version == 6 ? 16 : 4); ++b) {
      t.src.b[b] = uint8_t(rng());
      t.dst.b[b] = uint8_t(rng());
    }
    t.sport = uint16_t(rng());
    t.dport = uint16_t(rng());
    PacketTuple r = t;
    std::swap(r.src, r.dst);
    std::swap(r.sport, r.dport);
    ASSERT_EQ(sym.hash_tuple(t), sym.hash_tuple(r));
    ms_asymmetric += ms.hash_tuple(t) != ms.hash_tuple(r);
  }
  EXPECT_GT(ms_asymmetric, 9900);  // the test would notice a key that is not symmetric
}

}  // namespace
}  // namespace etcpipe
