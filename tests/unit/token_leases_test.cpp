#include "cache/token_leases.hpp"

#include <string>

#include <gtest/gtest.h>

namespace psig::cache {
namespace {

using namespace std::chrono_literals;
using clock = token_leases::clock;

TEST(TokenLeases, TheFirstMissRenewsTheOthersAskForTheirOwn) {
  token_leases l;
  const auto t = clock::now();
  const auto first = l.take("k", 1, t);
  EXPECT_FALSE(first.ok);
  EXPECT_TRUE(first.renew);
  for (int i = 0; i < 63; ++i) {
    const auto other = l.take("k", 1, t);
    EXPECT_FALSE(other.ok);
    EXPECT_FALSE(other.renew) << "a second lease at once would hoard the bucket's tokens";
  }
  EXPECT_TRUE(l.take("other", 1, t).renew) << "leases are per key";
  l.add("k", 2, t);
  EXPECT_TRUE(l.take("k", 1, t).ok);
  EXPECT_TRUE(l.take("k", 1, t).ok);
  EXPECT_TRUE(l.take("k", 1, t).renew) << "used up: the next miss renews";
}

TEST(TokenLeases, TakesWhatTheLeaseHoldsAndNoMore) {
  token_leases l(100ms);
  const auto t = clock::now();
  ASSERT_TRUE(l.take("k", 1, t).renew);
  l.add("k", 3, t);
  EXPECT_TRUE(l.take("k", 2, t).ok);
  const auto two = l.take("k", 2, t);
  EXPECT_FALSE(two.ok) << "one left: a request of two asks Redis";
  l.add("k", 0, t);  // its renewal was refused
  EXPECT_TRUE(l.take("k", 1, t).ok) << "the one left is still there";
}

TEST(TokenLeases, AnUnusedLeaseExpires) {
  token_leases l(100ms);
  const auto t = clock::now();
  l.take("k", 1, t);
  l.add("k", 5, t);
  EXPECT_TRUE(l.take("k", 1, t + 99ms).ok);
  EXPECT_FALSE(l.take("k", 1, t + 100ms).ok);
  l.add("k", 1, t + 200ms);
  EXPECT_TRUE(l.take("k", 1, t + 200ms).ok);
  EXPECT_FALSE(l.take("k", 1, t + 200ms).ok) << "expired tokens are not added back";
}

TEST(TokenLeases, ALostRenewalStopsBlockingAfterASecond) {
  token_leases l;
  const auto t = clock::now();
  ASSERT_TRUE(l.take("k", 1, t).renew);  // its caller never calls add()
  EXPECT_FALSE(l.take("k", 1, t + 500ms).renew);
  EXPECT_TRUE(l.take("k", 1, t + 1s).renew);
}

TEST(TokenLeases, ExpiredLeasesOfOtherKeysAreDropped) {
  token_leases l(10ms);
  const auto t = clock::now();
  for (int i = 0; i < 2000; ++i) l.add("k" + std::to_string(i), 1, t);
  EXPECT_EQ(l.size(), 2000u);
  l.add("fresh", 1, t + 1s);
  EXPECT_EQ(l.size(), 1u);
  EXPECT_TRUE(l.take("fresh", 1, t + 1s).ok);
}

TEST(TokenLeases, SmallRatesAreNotLeased) {
  EXPECT_EQ(token_leases::ahead_for(50), 0) << "a low limit stays exact";
  EXPECT_EQ(token_leases::ahead_for(10'000), 100);
}

}  // namespace
}  // namespace psig::cache
