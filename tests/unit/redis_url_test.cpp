#include "cache/redis_client.hpp"

#include <string>

#include <gtest/gtest.h>

namespace psig::cache {
namespace {

redis_endpoint parse_ok(const std::string& url) {
  const auto ep = parse_redis_url(url);
  EXPECT_TRUE(ep.has_value()) << url;
  return ep.value_or(redis_endpoint{"<none>", -1, "<none>", -1});
}

TEST(RedisUrl, Defaults) {
  for (const char* url : {"redis://", "redis://127.0.0.1", "redis://127.0.0.1:6379",
                          "redis://127.0.0.1:6379/", "redis://127.0.0.1/0"}) {
    const auto ep = parse_ok(url);
    EXPECT_EQ(ep.host, "127.0.0.1") << url;
    EXPECT_EQ(ep.port, 6379) << url;
    EXPECT_EQ(ep.password, "") << url;
    EXPECT_EQ(ep.db, 0) << url;
  }
}

TEST(RedisUrl, HostPortAndDb) {
  const auto ep = parse_ok("redis://cache.internal:6380/3");
  EXPECT_EQ(ep.host, "cache.internal");
  EXPECT_EQ(ep.port, 6380);
  EXPECT_EQ(ep.db, 3);
  EXPECT_EQ(parse_ok("redis://cache").host, "cache");
  EXPECT_EQ(parse_ok("redis://cache").port, 6379);
  EXPECT_EQ(parse_ok("redis://:7000").host, "127.0.0.1");
  EXPECT_EQ(parse_ok("redis://:7000").port, 7000);
}

TEST(RedisUrl, Password) {
  auto ep = parse_ok("redis://:s3cret@cache:6379/1");
  EXPECT_EQ(ep.password, "s3cret");
  EXPECT_EQ(ep.host, "cache");
  EXPECT_EQ(ep.db, 1);
  // A user name (Redis 6 ACL) is skipped; only the password is used.
  EXPECT_EQ(parse_ok("redis://default:pw@cache").password, "pw");
  EXPECT_EQ(parse_ok("redis://pw@cache").password, "pw");
  // The last '@' ends the user info, so a password may hold '@' and ':'.
  ep = parse_ok("redis://:p@ss:w@rd@cache:6390");
  EXPECT_EQ(ep.password, "p@ss:w@rd");
  EXPECT_EQ(ep.host, "cache");
  EXPECT_EQ(ep.port, 6390);
  EXPECT_EQ(parse_ok("redis://@cache").password, "");
}

TEST(RedisUrl, Ipv6Literals) {
  auto ep = parse_ok("redis://[::1]:6380/2");
  EXPECT_EQ(ep.host, "::1");  // hiredis wants it without brackets
  EXPECT_EQ(ep.port, 6380);
  EXPECT_EQ(ep.db, 2);
  ep = parse_ok("redis://[fd00::10]");
  EXPECT_EQ(ep.host, "fd00::10");
  EXPECT_EQ(ep.port, 6379);
  EXPECT_EQ(parse_ok("redis://:pw@[::1]:7000").password, "pw");
  EXPECT_EQ(parse_redis_url("redis://[::1"), std::nullopt);
  EXPECT_EQ(parse_redis_url("redis://[::1]6379"), std::nullopt);
  EXPECT_EQ(parse_redis_url("redis://[::1]:"), std::nullopt);
}

TEST(RedisUrl, Malformed) {
  for (const char* url : {
           "",
           "http://cache:6379",
           "rediss://cache:6379",  // TLS is not supported
           "REDIS://cache",
           "cache:6379",
           "redis://cache:",
           "redis://cache:0",
           "redis://cache:65536",
           "redis://cache:-1",
           "redis://cache:port",
           "redis://cache:63 79",
           "redis://cache/x",
           "redis://cache/1x",
           "redis://cache/-1",
           "redis://cache:6379/0?timeout=1",
       }) {
    EXPECT_EQ(parse_redis_url(url), std::nullopt) << url;
  }
}

TEST(RedisUrl, PortBounds) {
  EXPECT_EQ(parse_ok("redis://cache:1").port, 1);
  EXPECT_EQ(parse_ok("redis://cache:65535").port, 65535);
}

}  // namespace
}  // namespace psig::cache
