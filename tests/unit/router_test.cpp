#include "psig/http/router.hpp"

#include <string>

#include <gtest/gtest.h>

namespace psig::http {
namespace {

// The handlers are never run here: matching is judged by the route it reports.
handler noop() {
  return [](request&) -> awaitable<response> { co_return response{}; };
}

router make_router() {
  router r;
  r.add("GET", "/", noop());
  r.add("GET", "/healthz", noop());
  r.add("GET", "/v1/projects", noop());
  r.add("POST", "/v1/projects", noop());
  r.add("GET", "/v1/projects/{project}", noop());
  r.add("PATCH", "/v1/projects/{project}", noop());
  r.add("DELETE", "/v1/projects/{project}", noop());
  r.add("DELETE", "/v1/projects/{project}/keys/{key}", noop());
  r.add("POST", "/v1/projects/{project}/events/batch", noop());
  r.add("GET", "/v1/projects/{project}/events/{event}", noop());
  return r;
}

TEST(Router, MatchesStaticRoutes) {
  const router r = make_router();
  auto m = r.match("GET", "/healthz");
  EXPECT_NE(m.target, nullptr);
  EXPECT_TRUE(m.path_found);
  EXPECT_EQ(m.route, "/healthz");
  EXPECT_TRUE(m.params.empty());

  m = r.match("POST", "/v1/projects");
  EXPECT_NE(m.target, nullptr);
  EXPECT_EQ(m.route, "/v1/projects");

  m = r.match("GET", "/");
  EXPECT_NE(m.target, nullptr);
  EXPECT_EQ(m.route, "/");
}

TEST(Router, DistinctRoutesHaveDistinctHandlers) {
  const router r = make_router();
  const auto list = r.match("GET", "/v1/projects");
  const auto create = r.match("POST", "/v1/projects");
  ASSERT_NE(list.target, nullptr);
  ASSERT_NE(create.target, nullptr);
  EXPECT_NE(list.target, create.target);
  EXPECT_EQ(list.target, r.match("GET", "/v1/projects").target);
}

TEST(Router, ExtractsParameters) {
  const router r = make_router();
  const auto m = r.match("DELETE", "/v1/projects/prj_1/keys/key_2");
  ASSERT_NE(m.target, nullptr);
  EXPECT_EQ(m.route, "/v1/projects/{project}/keys/{key}");
  ASSERT_EQ(m.params.size(), 2U);
  EXPECT_EQ(m.params.at("project"), "prj_1");
  EXPECT_EQ(m.params.at("key"), "key_2");
}

TEST(Router, PercentDecodesParameters) {
  const router r = make_router();
  const auto m = r.match("DELETE", "/v1/projects/my%20project/keys/a%2Fb%5f");
  ASSERT_NE(m.target, nullptr);
  EXPECT_EQ(m.params.at("project"), "my project");
  EXPECT_EQ(m.params.at("key"), "a/b_");
  // In a path '+' is a plus, and a stray '%' is kept.
  const auto plus = r.match("GET", "/v1/projects/a+b%");
  ASSERT_NE(plus.target, nullptr);
  EXPECT_EQ(plus.params.at("project"), "a+b%");
}

TEST(Router, LiteralSegmentsAreMatchedBeforeLaterParameters) {
  const router r = make_router();
  const auto batch = r.match("POST", "/v1/projects/p/events/batch");
  ASSERT_NE(batch.target, nullptr);
  EXPECT_EQ(batch.route, "/v1/projects/{project}/events/batch");
  const auto event = r.match("GET", "/v1/projects/p/events/batch");
  ASSERT_NE(event.target, nullptr);
  EXPECT_EQ(event.route, "/v1/projects/{project}/events/{event}");
  EXPECT_EQ(event.params.at("event"), "batch");
}

TEST(Router, UnknownPathIs404) {
  const router r = make_router();
  for (const char* path : {"/nope", "/v1", "/v1/projects/p/keys", "/v1/projects/p/keys/k/x",
                           "/V1/projects", "", "healthz", "/healthzz"}) {
    const auto m = r.match("GET", path);
    EXPECT_EQ(m.target, nullptr) << path;
    EXPECT_FALSE(m.path_found) << path;
    EXPECT_TRUE(m.allow.empty()) << path;
  }
}

TEST(Router, WrongMethodIs405WithAllow) {
  const router r = make_router();
  auto m = r.match("PUT", "/v1/projects/prj_1");
  EXPECT_EQ(m.target, nullptr);
  EXPECT_TRUE(m.path_found);
  EXPECT_EQ(m.allow, "GET, PATCH, DELETE");
  EXPECT_EQ(m.route, "/v1/projects/{project}");

  m = r.match("DELETE", "/v1/projects");
  EXPECT_EQ(m.target, nullptr);
  EXPECT_TRUE(m.path_found);
  EXPECT_EQ(m.allow, "GET, POST");

  m = r.match("POST", "/healthz");
  EXPECT_TRUE(m.path_found);
  EXPECT_EQ(m.allow, "GET");
}

TEST(Router, AllowListsEachMethodOnce) {
  router r;
  r.add("GET", "/a/{x}", noop());
  r.add("GET", "/a/b", noop());
  r.add("POST", "/a/b", noop());
  const auto m = r.match("DELETE", "/a/b");
  EXPECT_TRUE(m.path_found);
  EXPECT_EQ(m.allow, "GET, POST");
}

TEST(Router, MethodsAreCaseSensitive) {
  const router r = make_router();
  const auto m = r.match("get", "/healthz");
  EXPECT_EQ(m.target, nullptr);
  EXPECT_TRUE(m.path_found);
}

TEST(Router, EmptySegmentsDoNotMatchParameters) {
  const router r = make_router();
  for (const char* path : {"/v1/projects//keys/k", "/v1/projects/p/keys/", "/v1/projects/"}) {
    const auto m = r.match("DELETE", path);
    EXPECT_EQ(m.target, nullptr) << path;
    EXPECT_FALSE(m.path_found) << path;
  }
}

TEST(Router, TrailingSlashIsADifferentPath) {
  const router r = make_router();
  EXPECT_FALSE(r.match("GET", "/healthz/").path_found);
  EXPECT_FALSE(r.match("GET", "/v1/projects/").path_found);
  EXPECT_FALSE(r.match("GET", "//").path_found);
}

TEST(Router, EmptyRouterFindsNothing) {
  const router r;
  const auto m = r.match("GET", "/");
  EXPECT_EQ(m.target, nullptr);
  EXPECT_FALSE(m.path_found);
}

}  // namespace
}  // namespace psig::http
