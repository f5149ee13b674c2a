// Consumers and subscriptions end to end (DESIGN §7, §8): the four consumer kinds with their
// secrets, rotation, enable/disable, PATCH rules, subscription patterns and filters, and what
// deleting a consumer takes with it.
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/e2e_helpers.hpp"
#include "support/daemon.hpp"
#include "support/http_client.hpp"

namespace psig::e2e {
namespace {

// Secrets are "whsec_" + base64 of 32 bytes (DESIGN §8): 43 characters and one '=' of padding
// are exactly 32 bytes.
bool is_webhook_secret(const json& value) {
  static const std::regex shape("whsec_[A-Za-z0-9+/]{43}=");
  return value.is_string() && std::regex_match(value.get<std::string>(), shape);
}

class ConsumerFlow : public operator_suite<ConsumerFlow> {};

TEST_F(ConsumerFlow, ConsumersOfEveryKind) {
  const std::string p = id_of(create_project(ops(), "kinds"));
  const std::string base = project_path(p) + "/consumers";
  const std::vector<json> specs{
      {{"name", "orders hook"},
       {"kind", "webhook"},
       {"url", "https://hooks.example.com/psig"},
       {"headers", {{"Authorization", "Bearer abc"}, {"X-Team", "core"}}}},
      {{"name", "fcm"},
       {"kind", "push"},
       {"url", "https://push.example.com/send"},
       {"headers", {{"Authorization", "key=abc"}}},
       {"template", {{"title", "{{data.title}}"}, {"to", "{{subject}}"}}}},
      {{"name", "mail"},
       {"kind", "email"},
       {"url", "https://mail.example.com/v3/send"},
       {"template", {{"subject", "Order {{data.id}}"}, {"text", "{{data.body}}"}}}},
      {{"name", "chat app"}, {"kind", "websocket"}},
  };
  std::set<std::string> secrets;
  for (const auto& spec : specs) {
    SCOPED_TRACE(spec.dump());
    const auto r = ops().post(base, spec);
    ASSERT_EQ(r.status, 201) << r.body;
    json c = r.json();
    EXPECT_TRUE(is_id("con", c["id"])) << r.body;
    EXPECT_EQ(c["kind"], spec["kind"]);
    EXPECT_EQ(c["name"], spec["name"]);
    EXPECT_EQ(c["status"], "enabled");
    EXPECT_EQ(c["url"], spec.value("url", json()));
    EXPECT_EQ(c["headers"], spec.value("headers", json::object()));
    EXPECT_EQ(c["template"], spec.value("template", json()));
    EXPECT_TRUE(is_webhook_secret(c["secret"])) << r.body;
    secrets.insert(c.value("secret", ""));
    const auto got = ops().get(base + "/" + c["id"].get<std::string>());
    ASSERT_EQ(got.status, 200) << got.body;
    EXPECT_EQ(got.json()["secret"], c["secret"]);
    EXPECT_EQ(got.json()["kind"], spec["kind"]);
  }
  EXPECT_EQ(secrets.size(), specs.size()) << "every consumer gets its own secret";
  const auto list = ops().get(base);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.json()["data"].size(), specs.size());
  for (const auto& s : secrets)
    EXPECT_EQ(list.body.find(s), std::string::npos) << "list shows secrets";

  const std::vector<std::pair<json, std::string>> invalid{
      {{{"name", "x"}, {"kind", "webhook"}}, "url"},
      {{{"name", "x"}, {"kind", "push"}, {"url", "https://push.example.com/"}}, "template"},
      {{{"name", "x"}, {"kind", "email"}, {"url", "https://mail.example.com/"}}, "template"},
      {{{"name", "x"}, {"kind", "websocket"}, {"url", "https://ws.example.com/"}}, "url"},
      {{{"name", "x"},
        {"kind", "webhook"},
        {"url", "https://h.example.com/"},
        {"template", {{"a", "b"}}}},
       "template"},
      {{{"name", "x"}, {"kind", "sms"}, {"url", "https://h.example.com/"}}, "kind"},
  };
  for (const auto& [spec, field] : invalid) {
    SCOPED_TRACE(spec.dump());
    const auto r = ops().post(base, spec);
    expect_error(r, 400, "validation_failed");
    EXPECT_TRUE(names_field(r, field));
  }
  EXPECT_EQ(ops().get(base).json()["data"].size(), specs.size())
      << "a rejected consumer was stored";
}

TEST_F(ConsumerFlow, RotateSecretKeepsThePreviousOneFor24Hours) {
  const std::string p = id_of(create_project(ops(), "rotate"));
  const std::string c = id_of(create_consumer(ops(), p, webhook_spec("rotating")));
  const std::string path = project_path(p) + "/consumers/" + c;
  json before = ops().get(path).json();
  EXPECT_TRUE(before.value("previous_secret_expires_at", json()).is_null()) << before;

  const auto rotated = ops().post(path + "/rotate-secret");
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  json r = rotated.json();
  EXPECT_TRUE(is_webhook_secret(r["secret"])) << rotated.body;
  EXPECT_NE(r["secret"], before["secret"]);
  ASSERT_TRUE(r.contains("previous_secret_expires_at")) << rotated.body;
  const auto expires = unix_seconds(r["previous_secret_expires_at"]);
  const auto updated = unix_seconds(r["updated_at"]);
  ASSERT_TRUE(expires && updated) << rotated.body;
  // DESIGN §8: both signatures are sent for 24 h after a rotation.
  EXPECT_NEAR(static_cast<double>(*expires - *updated), 24 * 3600.0, 60.0);

  json after = ops().get(path).json();
  EXPECT_EQ(after["secret"], r["secret"]);
  EXPECT_EQ(after["previous_secret_expires_at"], r["previous_secret_expires_at"]);
  json again = expect_status(ops().post(path + "/rotate-secret"), 200, "second rotation");
  EXPECT_NE(again["secret"], r["secret"]);
  EXPECT_NE(again["secret"], before["secret"]);
  expect_error(
      ops().post(project_path(p) + "/consumers/con_01ARZ3NDEKTSV4RRFFQ69G5FAV/rotate-secret"), 404,
      "not_found");
}

TEST_F(ConsumerFlow, EnableAndDisable) {
  const std::string p = id_of(create_project(ops(), "toggle"));
  json c = create_consumer(ops(), p, webhook_spec("toggled"));
  EXPECT_EQ(c["status"], "enabled");
  const std::string path = project_path(p) + "/consumers/" + c["id"].get<std::string>();

  for (int round = 0; round < 2; ++round) {  // twice: disabling a disabled consumer is fine
    const auto off = ops().post(path + "/disable");
    ASSERT_EQ(off.status, 200) << off.body;
    EXPECT_EQ(off.json()["status"], "disabled");
  }
  json disabled = ops().get(path).json();
  EXPECT_EQ(disabled["status"], "disabled");
  EXPECT_TRUE(disabled["disabled_reason"].is_string()) << disabled;

  const auto on = ops().post(path + "/enable");
  ASSERT_EQ(on.status, 200) << on.body;
  EXPECT_EQ(on.json()["status"], "enabled");
  json enabled = ops().get(path).json();
  EXPECT_EQ(enabled["status"], "enabled");
  EXPECT_TRUE(enabled["disabled_reason"].is_null()) << enabled;
  EXPECT_EQ(enabled["secret"], c["secret"]) << "toggling must not touch the secret";
  expect_error(ops().post(project_path(p) + "/consumers/con_01ARZ3NDEKTSV4RRFFQ69G5FAV/enable"),
               404, "not_found");
}

TEST_F(ConsumerFlow, PatchConsumerButNotItsKind) {
  const std::string p = id_of(create_project(ops(), "patch"));
  json c = create_consumer(ops(), p, webhook_spec("hook"));
  const std::string path = project_path(p) + "/consumers/" + c["id"].get<std::string>();

  const std::vector<json> patches{
      {{"url", "https://new.example.com/hook?x=1"}},
      {{"settings",
        {{"max_in_flight", 5},
         {"retry_schedule", {1, 10, 60}},
         {"timeout_ms", 5000},
         {"fifo", true},
         {"rate_limit_per_second", 20}}}},
      {{"headers", {{"X-New", "1"}}}},
      {{"name", "renamed"}},
  };
  for (const auto& patch : patches) {
    SCOPED_TRACE(patch.dump());
    const auto r = ops().patch(path, patch);
    ASSERT_EQ(r.status, 200) << r.body;
    for (const auto& [field, value] : patch.items()) EXPECT_EQ(r.json()[field], value);
  }
  json now = ops().get(path).json();
  for (const auto& patch : patches) {
    for (const auto& [field, value] : patch.items()) EXPECT_EQ(now[field], value) << field;
  }
  EXPECT_EQ(now["kind"], "webhook");
  EXPECT_EQ(now["secret"], c["secret"]) << "a PATCH must not rotate the secret";

  const auto kind = ops().patch(path, {{"kind", "push"}});
  expect_error(kind, 400, "validation_failed");
  EXPECT_TRUE(names_field(kind, "kind"));
  EXPECT_EQ(ops().get(path).json(), now) << "a rejected PATCH changed the consumer";

  const std::string ws = id_of(create_consumer(ops(), p, {{"name", "ws"}, {"kind", "websocket"}}));
  const auto ws_url =
      ops().patch(project_path(p) + "/consumers/" + ws, {{"url", "https://x.example.com/"}});
  expect_error(ws_url, 400, "validation_failed");
  EXPECT_TRUE(names_field(ws_url, "url"));
}

TEST_F(ConsumerFlow, DeletingAConsumerDeletesItsSubscriptions) {
  const std::string p = id_of(create_project(ops(), "cascade"));
  const std::string base = project_path(p);
  const std::string c1 = id_of(create_consumer(ops(), p, webhook_spec("one")));
  const std::string c2 = id_of(create_consumer(ops(), p, webhook_spec("two")));
  const std::string s1 = id_of(create_subscription(ops(), p, c1, ">"));
  create_subscription(ops(), p, c1, "chat.>");
  const std::string s3 = id_of(create_subscription(ops(), p, c2, "order.*.paid"));

  EXPECT_EQ(ops().get(base + "/subscriptions?consumer_id=" + c1).json()["data"].size(), 2u);
  EXPECT_EQ(ops().get(base + "/subscriptions").json()["data"].size(), 3u);

  EXPECT_EQ(ops().del(base + "/consumers/" + c1).status, 204);
  expect_error(ops().get(base + "/consumers/" + c1), 404, "not_found");
  expect_error(ops().get(base + "/subscriptions/" + s1), 404, "not_found");
  json left = ops().get(base + "/subscriptions").json();
  ASSERT_EQ(left["data"].size(), 1u) << left;
  EXPECT_EQ(left["data"][0]["id"], s3);
  EXPECT_EQ(ops().get(base + "/subscriptions?consumer_id=" + c1).json()["data"].size(), 0u);
  expect_error(ops().del(base + "/consumers/" + c1), 404, "not_found");
}

TEST_F(ConsumerFlow, SubscriptionPatternsAndFilters) {
  const std::string p = id_of(create_project(ops(), "subs"));
  const std::string base = project_path(p) + "/subscriptions";
  const std::string c = id_of(create_consumer(ops(), p, webhook_spec("subscriber")));
  json amount_filter{{"data.amount", {{"$gte", 100}}}, {"data.currency", "KRW"}};
  json logic_filter{{"$or",
                     {{{"data.tier", {{"$in", {"gold", "silver"}}}}},
                      {{"$not", {{"data.region", {{"$prefix", "eu-"}}}}}}}},
                    {"data.user", {{"$exists", true}}}};
  const std::vector<std::pair<std::string, json>> specs{
      {"chat.message.*", nullptr},
      {"chat.>", nullptr},
      {">", nullptr},
      {"order.*.paid", nullptr},
      {"order.*.paid", amount_filter},
      {"user.signed_up", logic_filter},
  };
  for (const auto& [pattern, filter] : specs) {
    SCOPED_TRACE(pattern + " " + filter.dump());
    json spec{{"consumer_id", c}, {"pattern", pattern}};
    if (!filter.is_null()) spec["filter"] = filter;
    const auto r = ops().post(base, spec);
    ASSERT_EQ(r.status, 201) << r.body;
    json s = r.json();
    EXPECT_TRUE(is_id("sub", s["id"])) << r.body;
    EXPECT_EQ(s["consumer_id"], c);
    EXPECT_EQ(s["pattern"], pattern);
    EXPECT_EQ(s["filter"], filter);
    const auto got = ops().get(base + "/" + s["id"].get<std::string>());
    ASSERT_EQ(got.status, 200) << got.body;
    EXPECT_EQ(got.json()["pattern"], pattern);
    EXPECT_EQ(got.json()["filter"], filter);
  }
  json list = ops().get(base).json();
  ASSERT_EQ(list["data"].size(), specs.size()) << list;

  const auto missing =
      ops().post(base, {{"consumer_id", "con_01ARZ3NDEKTSV4RRFFQ69G5FAV"}, {"pattern", ">"}});
  expect_error(missing, 422);
  EXPECT_TRUE(names_field(missing, "consumer_id"));

  const std::string first = id_of(list["data"][0]);
  EXPECT_EQ(ops().del(base + "/" + first).status, 204);
  expect_error(ops().get(base + "/" + first), 404, "not_found");
  expect_error(ops().del(base + "/" + first), 404, "not_found");
  EXPECT_EQ(ops().get(base).json()["data"].size(), specs.size() - 1);
}

}  // namespace
}  // namespace psig::e2e
