// The reader's batch pool: a batch is free again only when its last user releases it.
#include "pipeline/batch_pool.hpp"

#include <gtest/gtest.h>

#include <set>

namespace etcpipe {
namespace {

TEST(BatchPool, ABatchComesBackWhenItsLastUserReleasesIt) {
  BatchPool pool(2);
  const uint32_t a = pool.acquire();  // the reader
  pool.retain(a);                     // two work items point at its packets
  pool.retain(a);
  const uint32_t b = pool.acquire();
  EXPECT_NE(a, b);
  EXPECT_NE(&pool.batch(a), &pool.batch(b));
  EXPECT_TRUE(pool.empty());
  pool.release(a);  // the reader is done with it; the items are not
  pool.release(a);
  EXPECT_TRUE(pool.empty());
  EXPECT_EQ(pool.users(a), 1u);
  pool.release(a);  // the last item comes back
  EXPECT_FALSE(pool.empty());
  EXPECT_EQ(pool.acquire(), a);
}

TEST(BatchPool, EverySlotIsLentOnceUntilReleased) {
  BatchPool pool(5);
  std::set<uint32_t> lent;
  while (!pool.empty()) EXPECT_TRUE(lent.insert(pool.acquire()).second);
  EXPECT_EQ(lent.size(), 5u);
  for (uint32_t slot : lent) pool.release(slot);
  lent.clear();
  while (!pool.empty()) EXPECT_TRUE(lent.insert(pool.acquire()).second);
  EXPECT_EQ(lent.size(), 5u);
}

#ifndef NDEBUG
TEST(BatchPoolDeathTest, ADoubleReleaseIsCaught) {
  BatchPool pool(1);
  const uint32_t a = pool.acquire();
  pool.release(a);
  EXPECT_DEATH(pool.release(a), "");
}
#endif

}  // namespace
}  // namespace etcpipe
