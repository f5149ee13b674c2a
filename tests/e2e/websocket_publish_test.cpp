// Client publish over WebSocket (DESIGN §9): a durable publish is acknowledged after the commit
// and reaches other sessions and webhooks once per client_id; an ephemeral one reaches the
// connected sessions and is never stored; refused publishes change nothing.
#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "e2e/realtime_helpers.hpp"

namespace psig::e2e::pipeline {
namespace {

class WebsocketPublish : public pipeline_suite<WebsocketPublish> {
 protected:
  void SetUp() override {
    pipeline_suite::SetUp();
    p_ = make_project(daemon(), "chat");
    make_realtime_app(p_, "chat.>");
    hook_ = make_webhook(p_, "archive", rx_.url());
    create_subscription(p_.c(), p_.id, hook_.id, "chat.message.*");
  }
  std::uint16_t port() { return daemon().port(); }
  std::string publisher_token(const std::string& user = "alice") {
    return ws_token(p_, user, {"chat.>"}, {"chat.message.*", "chat.typing.*"});
  }

  receiver rx_;
  project p_;
  hook hook_;
};

TEST_F(WebsocketPublish, DurablePublishIsCommittedDeliveredAndIdempotent) {
  ws_client alice(port()), bob(port());
  ws_open(alice, publisher_token());
  ws_open(bob, ws_token(p_, "bob", {"chat.>"}), {"chat.message.*"});

  const json msg{{"id", 5},
                 {"publish",
                  {{"type", "chat.message.sent"}, {"data", {{"text", "hello"}}}, {"client_id", "c-1"}}}};
  const json ack = ws_request(alice, msg);
  ASSERT_TRUE(ack.contains("publish")) << ack;
  EXPECT_EQ(ack["id"], 5);
  const json event_id = ack["publish"]["id"];
  EXPECT_TRUE(is_id("evt", event_id)) << ack;
  EXPECT_EQ(ack["publish"]["duplicate"], false);
  EXPECT_EQ(ack["publish"]["deliveries"], 2) << "the websocket consumer and the webhook";

  // Acknowledged means committed: the event is readable at once, authored by the session's user.
  const json stored = expect_status(p_.c().get(p_.base + "/events/" + event_id.get<std::string>()), 200, "event");
  EXPECT_EQ(stored["type"], "chat.message.sent");

  auto push = ws_until(bob, push_of(event_id));
  ASSERT_TRUE(push.has_value()) << "bob gets alice's message";
  EXPECT_EQ((*push)["push"]["event"]["data"]["text"], "hello");
  EXPECT_EQ((*push)["push"]["event"]["source"], "ws:alice");
  ASSERT_TRUE(rx_.wait_for(1, 10s)) << "the webhook consumer gets it too";

  // The same client_id again (a retry after a lost ack): the same event, not a second one.
  const json again = ws_request(alice, msg);
  EXPECT_EQ(again["publish"]["id"], event_id) << again;
  EXPECT_EQ(again["publish"]["duplicate"], true);
  json changed = msg;
  changed["publish"]["data"]["text"] = "other";
  const json conflict = ws_request(alice, changed);
  EXPECT_EQ(conflict["error"]["code"], "idempotency_conflict") << conflict;

  // A marker proves the stream moved past any second copy before we count.
  const json marker = post_event(p_, {{"type", "chat.message.marker"}, {"data", 0}});
  ASSERT_TRUE(rx_.wait_for(2, 10s));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(rx_.count(), 2u) << "one webhook request for the message, one for the marker";
  auto next = ws_until(bob, [](const json& m) { return m.contains("push"); });
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ((*next)["push"]["event"]["id"], marker["id"]) << "bob saw the message once";
}

TEST_F(WebsocketPublish, EphemeralPublishReachesSessionsAndIsNotStored) {
  ws_client alice(port()), bob(port());
  ws_open(alice, publisher_token());
  ws_open(bob, ws_token(p_, "bob", {"chat.>"}), {"chat.typing.*"});
  const json ack = ws_request(
      alice, {{"id", 6},
              {"publish", {{"type", "chat.typing.started"}, {"data", {{"room", "r1"}}}, {"ephemeral", true}}}});
  ASSERT_TRUE(ack.contains("publish")) << ack;
  EXPECT_EQ(ack["publish"]["ephemeral"], true);
  const json event_id = ack["publish"]["id"];
  auto push = ws_until(bob, push_of(event_id));
  ASSERT_TRUE(push.has_value()) << "bob sees alice typing";
  EXPECT_EQ((*push)["push"]["ephemeral"], true);
  EXPECT_FALSE((*push)["push"].contains("offset")) << "ephemeral events are in no history";
  EXPECT_EQ((*push)["push"]["event"]["data"]["room"], "r1");

  expect_error(p_.c().get(p_.base + "/events/" + event_id.get<std::string>()), 404);
  const json events = expect_status(p_.c().get(p_.base + "/events"), 200, "events");
  EXPECT_TRUE(events["data"].empty()) << "nothing was stored: " << events;
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(rx_.count(), 0u) << "no webhook for an ephemeral event";
}

TEST_F(WebsocketPublish, RefusedPublishesGetErrorsAndChangeNothing) {
  ws_client alice(port());
  ws_open(alice, publisher_token());
  struct bad_case {
    json publish;
    std::string code;
    std::string field;
  };
  const std::vector<bad_case> cases = {
      {{{"type", "chat.room.created"}, {"data", 1}}, "forbidden", "type"},
      {{{"type", "chat.message.sent"}}, "validation_failed", "data"},
      {{{"type", "chat..bad"}, {"data", 1}}, "validation_failed", "type"},
      {{{"type", "chat.message.sent"}, {"data", 1}, {"source", "spoofed"}}, "validation_failed", "source"},
      {{{"type", "chat.message.sent"}, {"data", 1}, {"delay", "5m"}}, "validation_failed", "delay"},
      {{{"type", "chat.message.sent"}, {"data", 1}, {"client_id", ""}}, "validation_failed", "client_id"},
      {{{"type", "chat.message.sent"}, {"data", 1}, {"ephemeral", "yes"}}, "validation_failed", "ephemeral"},
      {json("not an object"), "validation_failed", "publish"},
  };
  int id = 10;
  for (const auto& c : cases) {
    const json r = ws_request(alice, {{"id", id}, {"publish", c.publish}});
    EXPECT_EQ(r["id"], id) << r;
    EXPECT_EQ(r["error"]["code"], c.code) << c.publish << " -> " << r;
    if (c.code == "validation_failed") {
      bool named = false;
      for (const auto& d : r["error"]["details"]) named = named || d["field"] == c.field;
      EXPECT_TRUE(named) << c.field << " not named in " << r;
    }
    ++id;
  }
  // A key without events:write may connect (ws) but not publish.
  http_client admin(daemon().port());
  admin.set_token(daemon().admin_token());
  const std::string ws_only = create_key(admin, p_.id, {"ws"}).at("key").get<std::string>();
  ws_client reader(port());
  ws_open(reader, ws_only);
  const json r = ws_request(reader, {{"id", 1}, {"publish", {{"type", "chat.message.sent"}, {"data", 1}}}});
  EXPECT_EQ(r["error"]["code"], "forbidden") << r;

  const json events = expect_status(p_.c().get(p_.base + "/events"), 200, "events");
  EXPECT_TRUE(events["data"].empty()) << "no refused publish stored anything: " << events;
  EXPECT_TRUE(daemon().running());
}

}  // namespace
}  // namespace psig::e2e::pipeline
