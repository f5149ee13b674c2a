// The shared token bucket in a real Redis: what an ingest rate limit takes, and the tokens a
// node takes ahead for its lease (cache/token_leases).
#include <gtest/gtest.h>

#include "cache/redis_client.hpp"
#include "psig/common/ids.hpp"
#include "support/test_env.hpp"

namespace psig::test {
namespace {

TEST(token_bucket, takes_ahead_only_what_the_bucket_holds) {
  cache::redis_client redis(*cache::parse_redis_url(redis_url()));
  const std::string key = "psig:test:rl:" + common::new_id("prj");
  // Burst 10, refilled at 0.01 per second: nothing comes back during the test.
  auto d = redis.take_tokens(key, 0.01, 10, 3, 5);
  ASSERT_TRUE(d.has_value());
  EXPECT_TRUE(d->allowed);
  EXPECT_EQ(d->ahead, 5);
  d = redis.take_tokens(key, 0.01, 10, 3, 5);
  ASSERT_TRUE(d.has_value());
  EXPECT_FALSE(d->allowed) << "2 tokens left";
  EXPECT_EQ(d->ahead, 0);
  EXPECT_GT(d->retry_after_ms, 0);
  d = redis.take_tokens(key, 0.01, 10, 1, 5);
  ASSERT_TRUE(d.has_value());
  EXPECT_TRUE(d->allowed);
  EXPECT_EQ(d->ahead, 1) << "only what is left beyond the request";
  d = redis.take_tokens(key, 0.01, 10, 1);
  ASSERT_TRUE(d.has_value());
  EXPECT_FALSE(d->allowed) << "the bucket is empty: 3 + 5 + 1 + 1 taken";
}

}  // namespace
}  // namespace psig::test
