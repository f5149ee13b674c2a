// The NATS and Redis connections against the real servers, and against closed ports.
#include <gtest/gtest.h>

#include "bus/nats_client.hpp"
#include "cache/redis_client.hpp"
#include "support/test_env.hpp"

namespace psig::test {
namespace {

TEST(nats_client_test, probes_ok_with_jetstream) {
  bus::nats_client c(nats_url(), "test");
  // The first connect may still be in flight: poll briefly.
  std::string result;
  for (int i = 0; i < 50 && (result = c.probe()) != "ok"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(result, "ok");
}

TEST(nats_client_test, down_server_is_reported_not_thrown) {
  bus::nats_client c("nats://127.0.0.1:" + std::to_string(free_port()), "test");
  EXPECT_NE(c.probe(), "ok");
}

TEST(redis_client_test, pings) {
  auto ep = cache::parse_redis_url(redis_url());
  ASSERT_TRUE(ep);
  cache::redis_client c(*ep);
  EXPECT_EQ(c.probe(), "ok");
  EXPECT_EQ(c.probe(), "ok");  // the connection is reused
}

TEST(redis_client_test, down_server_is_reported_not_thrown) {
  cache::redis_client c(cache::redis_endpoint{"127.0.0.1", free_port(), "", 0});
  EXPECT_NE(c.probe(), "ok");
}

}  // namespace
}  // namespace psig::test
