// The REST handlers' cache of API keys and projects: fresh entries only, and a project's
// invalidation drops its keys too (revocation must work at once).
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "api/auth_cache.hpp"

namespace psig::api {
namespace {

storage::api_key key_of(const std::string& id, const std::string& project) {
  storage::api_key k;
  k.id = id;
  k.project_id = project;
  k.prefix = "pfx_" + id;
  return k;
}

storage::project project_of(const std::string& id) {
  storage::project p;
  p.id = id;
  p.name = "n";
  return p;
}

TEST(auth_cache_test, returns_what_was_put_until_it_expires) {
  auth_cache c(std::chrono::milliseconds(50));
  EXPECT_FALSE(c.key("pfx_a").has_value());
  c.put_key("pfx_a", key_of("a", "prj_1"));
  c.put_project(project_of("prj_1"));
  ASSERT_TRUE(c.key("pfx_a").has_value());
  EXPECT_EQ(c.key("pfx_a")->id, "a");
  EXPECT_EQ(c.project("prj_1")->id, "prj_1");
  std::this_thread::sleep_for(std::chrono::milliseconds(80));
  EXPECT_FALSE(c.key("pfx_a").has_value()) << "a stale key is read again";
  EXPECT_FALSE(c.project("prj_1").has_value());
}

TEST(auth_cache_test, forgetting_a_project_drops_its_keys_only) {
  auth_cache c;
  c.put_key("pfx_a", key_of("a", "prj_1"));
  c.put_key("pfx_b", key_of("b", "prj_1"));
  c.put_key("pfx_c", key_of("c", "prj_2"));
  c.put_project(project_of("prj_1"));
  c.put_project(project_of("prj_2"));
  c.forget_project("prj_1");
  EXPECT_FALSE(c.key("pfx_a").has_value());
  EXPECT_FALSE(c.key("pfx_b").has_value());
  EXPECT_FALSE(c.project("prj_1").has_value());
  EXPECT_TRUE(c.key("pfx_c").has_value());
  EXPECT_TRUE(c.project("prj_2").has_value());
  c.clear();
  EXPECT_FALSE(c.key("pfx_c").has_value());
}

}  // namespace
}  // namespace psig::api
