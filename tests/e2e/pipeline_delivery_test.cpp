// Webhook and push delivery end to end (DESIGN §2, §3, §8): an event posted with an API key
// reaches every matching consumer once, signed (Standard Webhooks), with the stored envelope
// byte for byte, and nothing reaches a consumer that does not match.
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/e2e_helpers.hpp"
#include "e2e/pipeline_helpers.hpp"
#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/receiver.hpp"

namespace psig::e2e::pipeline {
namespace {

// A well-formed secret nobody uses: a signature must not verify with it.
constexpr const char* unrelated_secret = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

class PipelineDelivery : public pipeline_suite<PipelineDelivery> {};

std::vector<std::string> split_spaces(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string part; in >> part;) out.push_back(part);
  return out;
}

TEST_F(PipelineDelivery, SignedByteExactDeliveryAndItsLog) {
  auto p = make_project(daemon(), "delivery");
  receiver rx;
  const hook h = make_webhook(
      p, "orders", rx.url("/hooks/orders?tenant=1"),
      {{"headers", {{"X-Custom", "custom value"}, {"Authorization", "Bearer receiver-token"}}}});
  create_subscription(p.c(), p.id, h.id, "order.created");

  const json data{{"amount", 1234},
                  {"currency", "KRW"},
                  {"items", {{{"sku", "a-1"}, {"qty", 2}}}},
                  {"note", "h\xC3\xA9llo \"quoted\" \\ / <tag>"},
                  {"ratio", 0.5},
                  {"none", nullptr}};
  const auto posted = p.c().post(p.base + "/events", {{"type", "order.created"},
                                                      {"source", "shop"},
                                                      {"subject", "order/42"},
                                                      {"data", data}});
  ASSERT_EQ(posted.status, 202) << posted.body;
  json accepted = posted.json();
  ASSERT_TRUE(is_id("evt", accepted["id"])) << posted.body;
  EXPECT_EQ(accepted["deliveries"], 1) << posted.body;
  EXPECT_EQ(accepted["duplicate"], false) << posted.body;
  const std::string event_id = accepted["id"].get<std::string>();

  ASSERT_TRUE(rx.wait_for(1, 15s)) << "the receiver got nothing";
  const std::string dlv = only_delivery(p, event_id);
  EXPECT_TRUE(is_id("dlv", json(dlv)));
  json d = wait_delivery(p, dlv, {"succeeded"});
  ASSERT_TRUE(status_in(d, {"succeeded"})) << d;

  const auto req = rx.requests().at(0);
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, "/hooks/orders?tenant=1");
  EXPECT_EQ(req.header("webhook-id"), event_id);
  ASSERT_TRUE(header_seconds(req).has_value()) << "webhook-timestamp missing or not Unix seconds";
  EXPECT_NEAR(static_cast<double>(*header_seconds(req)), static_cast<double>(std::time(nullptr)), 60.0);
  const auto content_type = req.header("content-type").value_or("");
  EXPECT_EQ(content_type.rfind("application/json", 0), 0u) << content_type;
  EXPECT_EQ(req.header("x-custom"), "custom value");
  EXPECT_EQ(req.header("authorization"), "Bearer receiver-token");

  // The body is the stored envelope, byte for byte, in the documented key order.
  json event = expect_status(p.c().get(p.base + "/events/" + event_id), 200, "GET event");
  json& payload = event["payload"];
  EXPECT_EQ(payload["id"], event_id);
  EXPECT_EQ(payload["type"], "order.created");
  EXPECT_EQ(payload["source"], "shop");
  EXPECT_EQ(payload["subject"], "order/42");
  EXPECT_EQ(payload["data"], data);
  EXPECT_TRUE(unix_seconds(payload["timestamp"]).has_value()) << payload;
  EXPECT_EQ(req.body, envelope_bytes(payload));
  EXPECT_EQ(key_order(req.body),
            (std::vector<std::string>{"id", "type", "timestamp", "source", "subject", "data"}));

  // Standard Webhooks: verifies with the consumer's secret, and only over these exact bytes.
  EXPECT_TRUE(signature_ok(req, h.secret)) << req.header("webhook-signature").value_or("(none)");
  EXPECT_FALSE(signature_ok(req, unrelated_secret));
  auto tampered = req;
  tampered.body.back() = ' ';
  EXPECT_FALSE(signature_ok(tampered, h.secret));
  const auto sig = req.header("webhook-signature").value_or("");
  EXPECT_EQ(split_spaces(sig).size(), 1u) << "one secret, one signature: " << sig;
  EXPECT_EQ(sig.rfind("v1,", 0), 0u) << sig;

  // The delivery log: the event lists its delivery, the delivery its attempt.
  json listed = deliveries_of(p, event_id);
  ASSERT_EQ(listed.size(), 1u) << listed;
  EXPECT_EQ(listed[0]["id"], dlv);
  EXPECT_EQ(listed[0]["event_id"], event_id);
  EXPECT_EQ(listed[0]["consumer_id"], h.id);
  EXPECT_EQ(listed[0]["status"], "succeeded");

  EXPECT_EQ(d["id"], dlv);
  EXPECT_EQ(d["event_id"], event_id);
  EXPECT_EQ(d["consumer_id"], h.id);
  ASSERT_TRUE(d["attempts"].is_array()) << d;
  ASSERT_EQ(d["attempts"].size(), 1u) << d;
  json& a = d["attempts"][0];
  EXPECT_EQ(a["attempt"], 1) << a;
  EXPECT_EQ(a["status_code"], 200) << a;
  EXPECT_TRUE(a["duration_ms"].is_number_integer() && a["duration_ms"].get<long long>() >= 0) << a;
  EXPECT_TRUE(unix_seconds(a["started_at"]).has_value()) << a;
  EXPECT_TRUE(a.contains("error")) << a;
  EXPECT_TRUE(a["error"].is_null()) << a;

  // Listed among the project's deliveries too, and delivered once.
  json all = expect_status(p.c().get(p.base + "/deliveries?status=succeeded"), 200, "list");
  ASSERT_EQ(all["data"].size(), 1u) << all;
  EXPECT_EQ(all["data"][0]["id"], dlv);
  EXPECT_EQ(rx.count(), 1u);
}

// Patterns (`*`, `>`, exact), payload filters, several consumers and several subscriptions of
// one consumer: each event goes to exactly the consumers that match, once each.
TEST_F(PipelineDelivery, RoutesByPatternsAndFilters) {
  auto p = make_project(daemon(), "routing");
  std::map<std::string, std::unique_ptr<receiver>> rx;
  std::map<std::string, hook> hooks;
  for (const char* name : {"star", "chat", "exact", "filter", "all"}) {
    rx[name] = std::make_unique<receiver>();
    hooks[name] = make_webhook(p, name, rx[name]->url("/" + std::string(name)));
  }
  create_subscription(p.c(), p.id, hooks["star"].id, "*");
  create_subscription(p.c(), p.id, hooks["chat"].id, "chat.>");
  create_subscription(p.c(), p.id, hooks["chat"].id, "chat.message.*");  // overlaps chat.>
  create_subscription(p.c(), p.id, hooks["exact"].id, "order.paid");
  create_subscription(p.c(), p.id, hooks["filter"].id, "order.*",
                      {{"data.amount", {{"$gte", 100}}}});
  create_subscription(p.c(), p.id, hooks["all"].id, ">");

  struct sent {
    std::string type;
    json data;
    std::set<std::string> to;
    std::string id;
  };
  std::vector<sent> events{
      {"ping", json::object(), {"star", "all"}, {}},
      {"chat.message.created", {{"text", "hi"}}, {"chat", "all"}, {}},
      {"chat", json::object(), {"star", "all"}, {}},
      {"order.paid", {{"amount", 50}}, {"exact", "all"}, {}},
      {"order.paid", {{"amount", 150}}, {"exact", "filter", "all"}, {}},
      {"order.refunded", {{"amount", 500}}, {"filter", "all"}, {}},
      {"order.refunded", {{"amount", 99}}, {"all"}, {}},
      {"order.paid.late", {{"amount", 1000}}, {"all"}, {}},
      {"audit.log.entry.v2", {{"amount", 100}}, {"all"}, {}},
  };
  for (auto& e : events) {
    SCOPED_TRACE(e.type + " " + e.data.dump());
    json accepted = post_event(p, {{"type", e.type}, {"data", e.data}});
    e.id = accepted["id"].get<std::string>();
    EXPECT_EQ(accepted["deliveries"], e.to.size()) << accepted;
    std::set<std::string> consumers;
    for (const auto& d : deliveries_of(p, e.id)) consumers.insert(d["consumer_id"].get<std::string>());
    std::set<std::string> expected;
    for (const auto& name : e.to) expected.insert(hooks[name].id);
    EXPECT_EQ(consumers, expected);
  }

  // Everything that will ever be sent is sent once every delivery succeeded (deliveries are
  // made at ingest only), so the receivers' counts are final then.
  for (const auto& e : events) {
    json list = wait_event_deliveries(p, e.id, {"succeeded"});
    for (const auto& d : list) EXPECT_EQ(d["status"], "succeeded") << e.type << " " << d;
  }
  for (const auto& [name, r] : rx) {
    SCOPED_TRACE(name);
    std::multiset<std::string> expected;
    for (const auto& e : events) {
      if (e.to.count(name) != 0) expected.insert(e.id);
    }
    EXPECT_EQ(id_multiset(*r), expected);
    for (const auto& req : r->requests()) {
      EXPECT_EQ(req.target, "/" + name);
      EXPECT_TRUE(signature_ok(req, hooks[name].secret));
    }
  }
}

// The routing cache is dropped when subscriptions change: the next event already sees it.
TEST_F(PipelineDelivery, SubscriptionChangesTakeEffectForTheNextEvent) {
  auto p = make_project(daemon(), "cache");
  receiver rx;
  const hook h = make_webhook(p, "late subscriber", rx.url());
  create_subscription(p.c(), p.id, h.id, "a.b");

  json before = post_event(p, {{"type", "x.y"}, {"data", {{"n", 1}}}});
  EXPECT_EQ(before["deliveries"], 0) << "nothing subscribes to x.y yet (and the routes are cached now)";

  const std::string sub = id_of(create_subscription(p.c(), p.id, h.id, "x.*"));
  json matched = post_event(p, {{"type", "x.y"}, {"data", {{"n", 2}}}});
  EXPECT_EQ(matched["deliveries"], 1) << "a new subscription must count for the very next event";

  ASSERT_EQ(p.c().del(p.base + "/subscriptions/" + sub).status, 204);
  json after_delete = post_event(p, {{"type", "x.y"}, {"data", {{"n", 3}}}});
  EXPECT_EQ(after_delete["deliveries"], 0) << "a deleted subscription must stop counting at once";

  json other = post_event(p, {{"type", "a.b"}, {"data", {{"n", 4}}}});
  EXPECT_EQ(other["deliveries"], 1);
  ASSERT_TRUE(rx.wait_for(2, 15s));
  wait_event_deliveries(p, other["id"].get<std::string>(), {"succeeded"});
  wait_event_deliveries(p, matched["id"].get<std::string>(), {"succeeded"});
  EXPECT_EQ(id_multiset(rx), (std::multiset<std::string>{matched["id"].get<std::string>(),
                                                         other["id"].get<std::string>()}));
}

TEST_F(PipelineDelivery, DisabledConsumerGetsNothingNew) {
  auto p = make_project(daemon(), "disabled");
  receiver rx_a;
  receiver rx_b;
  const hook a = make_webhook(p, "a", rx_a.url());
  const hook b = make_webhook(p, "b", rx_b.url());
  create_subscription(p.c(), p.id, a.id, ">");
  create_subscription(p.c(), p.id, b.id, ">");

  json e1 = post_event(p, {{"type", "thing.happened"}, {"data", {{"n", 1}}}});
  EXPECT_EQ(e1["deliveries"], 2);
  ASSERT_TRUE(rx_a.wait_for(1, 15s));
  ASSERT_TRUE(rx_b.wait_for(1, 15s));

  const auto off = p.c().post(p.base + "/consumers/" + a.id + "/disable");
  ASSERT_EQ(off.status, 200) << off.body;
  json e2 = post_event(p, {{"type", "thing.happened"}, {"data", {{"n", 2}}}});
  EXPECT_EQ(e2["deliveries"], 1) << "a disabled consumer must not get new deliveries";
  ASSERT_TRUE(rx_b.wait_for(2, 15s));

  const auto on = p.c().post(p.base + "/consumers/" + a.id + "/enable");
  ASSERT_EQ(on.status, 200) << on.body;
  json e3 = post_event(p, {{"type", "thing.happened"}, {"data", {{"n", 3}}}});
  EXPECT_EQ(e3["deliveries"], 2);
  ASSERT_TRUE(rx_a.wait_for(2, 15s));
  ASSERT_TRUE(rx_b.wait_for(3, 15s));
  for (const auto& e : {e1, e2, e3}) wait_event_deliveries(p, e.at("id").get<std::string>(), {"succeeded"});

  const auto id = [](const json& e) { return e.at("id").get<std::string>(); };
  EXPECT_EQ(id_multiset(rx_a), (std::multiset<std::string>{id(e1), id(e3)}));
  EXPECT_EQ(id_multiset(rx_b), (std::multiset<std::string>{id(e1), id(e2), id(e3)}));
}

// Push / e-mail consumers send their rendered template, signed the same way, with their headers.
TEST_F(PipelineDelivery, PushConsumerReceivesTheRenderedTemplate) {
  auto p = make_project(daemon(), "push");
  receiver rx;
  json c = create_consumer(
      p.c(), p.id,
      {{"name", "fcm"},
       {"kind", "push"},
       {"url", rx.url("/send")},
       {"headers", {{"Authorization", "key=provider-secret"}}},
       {"template", {{"title", "{{data.title}}"}, {"n", "{{data.count}}"}}}});
  const std::string consumer = id_of(c);
  const std::string secret = c.at("secret").get<std::string>();
  create_subscription(p.c(), p.id, consumer, "notify.*");

  json accepted =
      post_event(p, {{"type", "notify.user"}, {"data", {{"title", "Hello"}, {"count", 3}, {"x", true}}}});
  EXPECT_EQ(accepted["deliveries"], 1);
  ASSERT_TRUE(rx.wait_for(1, 15s));
  const auto req = rx.requests().at(0);
  EXPECT_EQ(req.target, "/send");
  EXPECT_EQ(json::parse(req.body, nullptr, false), (json{{"title", "Hello"}, {"n", 3}})) << req.body;
  EXPECT_EQ(req.header("authorization"), "key=provider-secret");
  EXPECT_EQ(req.header("webhook-id"), accepted["id"].get<std::string>());
  EXPECT_TRUE(signature_ok(req, secret)) << "the signature covers the rendered body";
  const std::string dlv = only_delivery(p, accepted["id"].get<std::string>());
  EXPECT_TRUE(status_in(wait_delivery(p, dlv, {"succeeded"}), {"succeeded"}));

  // The stored event is still the full envelope; only what is sent is rendered.
  json event = expect_status(p.c().get(p.base + "/events/" + accepted["id"].get<std::string>()),
                                   200, "GET event");
  EXPECT_EQ(event["payload"]["data"], (json{{"title", "Hello"}, {"count", 3}, {"x", true}}));
  EXPECT_EQ(rx.count(), 1u);
}

// DESIGN §8: during a rotation both the new and the previous secret sign.
TEST_F(PipelineDelivery, RotatedSecretSignsWithBoth) {
  auto p = make_project(daemon(), "rotation");
  receiver rx;
  const hook h = make_webhook(p, "rotating", rx.url());
  create_subscription(p.c(), p.id, h.id, ">");

  post_event(p, {{"type", "before.rotation"}, {"data", json::object()}});
  ASSERT_TRUE(rx.wait_for(1, 15s));
  const auto first = rx.requests().at(0);
  EXPECT_TRUE(signature_ok(first, h.secret));
  EXPECT_EQ(split_spaces(first.header("webhook-signature").value_or("")).size(), 1u);

  json rotated =
      expect_status(p.c().post(p.base + "/consumers/" + h.id + "/rotate-secret"), 200, "rotate");
  const std::string fresh = rotated.at("secret").get<std::string>();
  ASSERT_NE(fresh, h.secret);

  json after = post_event(p, {{"type", "after.rotation"}, {"data", json::object()}});
  ASSERT_TRUE(rx.wait_for(2, 15s));
  const auto second = rx.requests().at(1);
  EXPECT_EQ(second.header("webhook-id"), after["id"].get<std::string>());
  const auto parts = split_spaces(second.header("webhook-signature").value_or(""));
  ASSERT_EQ(parts.size(), 2u) << second.header("webhook-signature").value_or("(none)");
  int new_matches = 0;
  int old_matches = 0;
  for (const auto& part : parts) {
    EXPECT_EQ(part.rfind("v1,", 0), 0u) << part;
    new_matches += signature_ok(second, fresh, part) ? 1 : 0;
    old_matches += signature_ok(second, h.secret, part) ? 1 : 0;
  }
  EXPECT_EQ(new_matches, 1) << "exactly one signature is made with the new secret";
  EXPECT_EQ(old_matches, 1) << "exactly one signature is made with the previous secret";
  EXPECT_TRUE(signature_ok(second, fresh));
}

}  // namespace
}  // namespace psig::e2e::pipeline
