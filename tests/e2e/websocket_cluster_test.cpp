// Two daemons on one PostgreSQL, NATS and Redis (DESIGN §10 scale-out): a WebSocket client on
// node A receives an event POSTed to node B, ephemeral publishes and join/leave notices cross
// nodes, and presence lists the users of both.
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "e2e/realtime_helpers.hpp"

namespace psig::e2e::pipeline {
namespace {

TEST(WebsocketCluster, EventsEphemeralsJoinsAndPresenceCrossNodes) {
  test::daemon_process a(pipeline_daemon({{"PSIG_NODE_ID", "node-a"}}));
  test::daemon_process b(pipeline_daemon({{"PSIG_NODE_ID", "node-b"}, {"PSIG_DATABASE_URL", a.database_url()}}));
  ASSERT_TRUE(a.running() && b.running());

  project on_a = make_project(a, "cluster");
  make_realtime_app(on_a, "chat.>");
  // The same project, driven through node B.
  project on_b;
  on_b.id = on_a.id;
  on_b.base = on_a.base;
  on_b.key = on_a.key;
  on_b.api = std::make_unique<http_client>(b.port());
  on_b.api->set_token(on_b.key);

  ws_client ann(a.port()), bob(b.port());
  ws_open(ann, ws_token(on_a, "ann", {"chat.>"}, {"chat.typing.*"}), {"chat.>"}, {{"join_leave", true}});
  ws_open(bob, ws_token(on_b, "bob", {"chat.>"}, {"chat.typing.*"}), {"chat.>"});

  auto join = ws_until(ann, [](const json& m) { return m.contains("join"); });
  ASSERT_TRUE(join.has_value()) << "ann (node A) sees bob (node B) join";
  EXPECT_EQ((*join)["join"]["user"], "bob");

  const json posted = post_event(on_b, {{"type", "chat.message.created"}, {"data", {{"via", "b"}}}});
  auto push = ws_until(ann, push_of(posted["id"]));
  ASSERT_TRUE(push.has_value()) << "an event POSTed to node B reaches a client of node A";
  auto same = ws_until(bob, push_of(posted["id"]));
  ASSERT_TRUE(same.has_value()) << "and node B's own client";
  EXPECT_EQ((*push)["push"]["offset"], (*same)["push"]["offset"]) << "one stream, one offset";

  const json typing = ws_request(
      bob, {{"id", 9}, {"publish", {{"type", "chat.typing.started"}, {"data", 1}, {"ephemeral", true}}}});
  ASSERT_TRUE(typing.contains("publish")) << typing;
  ASSERT_TRUE(ws_until(ann, push_of(typing["publish"]["id"])).has_value())
      << "an ephemeral publish on node B reaches node A";

  const json both = json::array({"ann", "bob"});
  for (auto* node : {&on_a, &on_b}) {
    const json rest = poll(node->c(), node->base + "/presence",
                           [&](const json& j) { return j.value("users", json()) == both; }, 5s);
    EXPECT_EQ(rest["users"], both) << "presence on either node lists both: " << rest;
  }
  const json over_ws = ws_request(ann, {{"id", 10}, {"presence", json::object()}});
  EXPECT_EQ(over_ws["presence"]["users"], both) << over_ws;
}

// Each node caches API keys and projects for a few seconds; a revocation on one node must still
// stop the key on the other at once (invalidated over psig.ctl), not when the cache expires.
TEST(Cluster, KeyRevokedOnOneNodeStopsOnTheOther) {
  test::daemon_process a(pipeline_daemon({{"PSIG_NODE_ID", "node-a"}}));
  test::daemon_process b(pipeline_daemon({{"PSIG_NODE_ID", "node-b"}, {"PSIG_DATABASE_URL", a.database_url()}}));
  http_client admin(a.port());
  admin.set_token(a.admin_token());
  const std::string project_id = id_of(create_project(admin, "revoke"));
  const json key = create_key(admin, project_id, {"events:read"});
  http_client on_b(b.port());
  on_b.set_token(key.at("key").get<std::string>());
  const std::string path = project_path(project_id) + "/events";
  ASSERT_EQ(on_b.get(path).status, 200) << "node B has now cached the key";
  ASSERT_EQ(admin.del(project_path(project_id) + "/keys/" + id_of(key)).status, 204);
  int status = 0;
  const auto deadline = steady_clock::now() + 1s;  // well inside the cache's 5 s
  while ((status = on_b.get(path).status) == 200 && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(status, 401) << "node B still accepts a key revoked on node A";
}

}  // namespace
}  // namespace psig::e2e::pipeline
