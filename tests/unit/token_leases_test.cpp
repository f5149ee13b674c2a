#include "cache/token_leases.hpp"

#include <string>

#include <gtest/gtest.h>

namespace psig::cache {
namespace {

using namespace std::chrono_literals;
using clock = token_leases::clock;

TEST(TokenLeases, NothingTakenBeforeALease) {
  token_leases l;
  EXPECT_FALSE(l.take("k", 1, clock::now()));
}

TEST(TokenLeases, TakesWhatTheLeaseHoldsAndNoMore) {
  token_leases l(100ms);
  const auto t = clock::now();
  l.add("k", 3, t);
  EXPECT_TRUE(l.take("k", 2, t));
  EXPECT_FALSE(l.take("k", 2, t)) << "one left: a request of two asks Redis";
  EXPECT_TRUE(l.take("k", 1, t));
  EXPECT_FALSE(l.take("k", 1, t));
  EXPECT_FALSE(l.take("other", 1, t)) << "leases are per key";
}

TEST(TokenLeases, AnUnusedLeaseExpires) {
  token_leases l(100ms);
  const auto t = clock::now();
  l.add("k", 5, t);
  EXPECT_TRUE(l.take("k", 1, t + 99ms));
  EXPECT_FALSE(l.take("k", 1, t + 100ms));
  l.add("k", 1, t + 200ms);
  EXPECT_TRUE(l.take("k", 1, t + 200ms));
  EXPECT_FALSE(l.take("k", 1, t + 200ms)) << "expired tokens are not added back";
}

TEST(TokenLeases, ExpiredLeasesOfOtherKeysAreDropped) {
  token_leases l(10ms);
  const auto t = clock::now();
  for (int i = 0; i < 2000; ++i) l.add("k" + std::to_string(i), 1, t);
  EXPECT_EQ(l.size(), 2000u);
  l.add("fresh", 1, t + 1s);
  EXPECT_EQ(l.size(), 1u);
  EXPECT_TRUE(l.take("fresh", 1, t + 1s));
}

TEST(TokenLeases, SmallRatesAreNotLeased) {
  EXPECT_EQ(token_leases::ahead_for(50), 0) << "a low limit stays exact";
  EXPECT_EQ(token_leases::ahead_for(10'000), 100);
}

}  // namespace
}  // namespace psig::cache
