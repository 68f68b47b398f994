#include <gtest/gtest.h>

#include "features/selected.hpp"
#include "packet/decoder.hpp"
#include "packet_builder.hpp"

namespace etcpipe {
namespace {

using namespace test;

TEST(SelectedRing, AConsumerThatFallsBehindCostsCopiesNotPackets) {
  SelectedRing ring(3, 128, 2, 16);  // two batches of 256
  const Bytes frame = eth(0x0800, ipv4(kA, kB, 17, udp(1, 2, Bytes(300, 0xAB))));
  DecodedPacket p;
  ASSERT_EQ(decode_packet(linktype::kEthernet, frame, uint32_t(frame.size()), {}, p), Outcome::Ok);
  const FlowUpdate u{7, Selection::Selected, 0, true};
  for (int i = 0; i < 600; ++i) ring.add(p, u, 0, frame);  // nobody consumes
  EXPECT_EQ(ring.stats().copied, 512u);
  EXPECT_EQ(ring.stats().copy_dropped, 88u);

  SelectedBatch* b = ring.take();
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->worker, 3);
  EXPECT_EQ(b->size(), SelectedBatch::kCapacity);
  EXPECT_EQ(b->packet(0).slot, 7u);
  EXPECT_EQ(b->packet(0).copied, 128u);  // the snap length
  EXPECT_EQ(b->bytes(0)[0], frame[0]);
  EXPECT_EQ(b->packet(0).meta.payload_len, 300u);
  ring.give_back(b);
  ring.add(p, u, 0, frame);  // a batch is free again: copies resume
  EXPECT_EQ(ring.stats().copied, 513u);
  ring.hand_over();
  ASSERT_NE(ring.take(), nullptr);  // the second full batch
  SelectedBatch* last = ring.take();
  ASSERT_NE(last, nullptr);  // the partly filled one
  EXPECT_EQ(last->size(), 1u);
  EXPECT_EQ(ring.take(), nullptr);
}

TEST(SelectedRing, EndsThatFindNoBatchAreKeptOncePerSlotAndGoFirst) {
  SelectedRing ring(0, 64, 1, 16);
  const Bytes frame = eth(0x0800, ipv4(kA, kB, 17, udp(1, 2, Bytes(10, 1))));
  DecodedPacket p;
  ASSERT_EQ(decode_packet(linktype::kEthernet, frame, uint32_t(frame.size()), {}, p), Outcome::Ok);
  for (uint32_t i = 0; i < SelectedBatch::kCapacity; ++i) {
    ring.add(p, {7, Selection::Selected, 0, true}, 0, frame);
  }
  ring.end(5);  // no batch is free: kept
  ring.end(5);
  ring.end(6);
  ring.add(p, {9, Selection::Selected, 0, true}, 0, frame);  // dropped, counted
  EXPECT_EQ(ring.stats().copy_dropped, 1u);
  ring.give_back(ring.take());
  ring.add(p, {8, Selection::Selected, 0, true}, 0, frame);
  ring.hand_over();
  SelectedBatch* b = ring.take();
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(b->size(), 3u);  // both kept ends, once each, before the packet
  EXPECT_TRUE(b->packet(0).end);
  EXPECT_TRUE(b->packet(1).end);
  EXPECT_EQ(b->packet(0).slot + b->packet(1).slot, 11u);
  EXPECT_FALSE(b->packet(2).end);
  EXPECT_EQ(b->packet(2).slot, 8u);
}

}  // namespace
}  // namespace etcpipe
