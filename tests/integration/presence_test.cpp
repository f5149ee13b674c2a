// Presence and the per-project connection cap in a real Redis (DESIGN §6).
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "cache/redis_client.hpp"
#include "psig/common/ids.hpp"
#include "support/test_env.hpp"

namespace psig::test {
namespace {

using namespace std::chrono_literals;

class presence_test : public ::testing::Test {
 protected:
  presence_test() : redis_(*cache::parse_redis_url(redis_url())), project_(common::new_id("prj")) {}
  cache::redis_client redis_;
  std::string project_;
};

TEST_F(presence_test, admit_stops_at_the_cap_and_counts_users_once) {
  EXPECT_EQ(redis_.presence_admit(project_, "s1", "ann", 60s, 3), true);
  EXPECT_EQ(redis_.presence_admit(project_, "s2", "ann", 60s, 3), true);
  EXPECT_EQ(redis_.presence_admit(project_, "s3", "bob", 60s, 3), true);
  EXPECT_EQ(redis_.presence_admit(project_, "s4", "cid", 60s, 3), false) << "the cap is 3 sessions";
  EXPECT_EQ(redis_.presence_users(project_), (std::vector<std::string>{"ann", "bob"}));
  ASSERT_TRUE(redis_.presence_remove(project_, "s3"));
  EXPECT_EQ(redis_.presence_admit(project_, "s4", "cid", 60s, 3), true) << "a place freed up";
  EXPECT_EQ(redis_.presence_users(project_), (std::vector<std::string>{"ann", "cid"}));
  EXPECT_EQ(redis_.presence_admit(project_, "s5", "dan", 60s, 0), true) << "0: no cap";
}

TEST_F(presence_test, expired_sessions_free_their_place) {
  ASSERT_EQ(redis_.presence_admit(project_, "s1", "ann", 1s, 1), true);
  EXPECT_EQ(redis_.presence_admit(project_, "s2", "bob", 60s, 1), false);
  std::this_thread::sleep_for(1100ms);  // s1 was never refreshed: its node is gone
  EXPECT_EQ(redis_.presence_admit(project_, "s2", "bob", 60s, 1), true);
  EXPECT_EQ(redis_.presence_users(project_), (std::vector<std::string>{"bob"}));
}

TEST(presence_down_test, redis_down_is_unknown_not_refused) {
  cache::redis_client c(cache::redis_endpoint{"127.0.0.1", free_port(), "", 0});
  EXPECT_FALSE(c.presence_admit("prj_x", "s1", "ann", 60s, 1).has_value()) << "callers fail open";
}

}  // namespace
}  // namespace psig::test
