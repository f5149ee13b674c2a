// The ingest side end to end (DESIGN §3, §7): validation that names the field and stores
// nothing, the 256 KiB limit, batches with partial failures, idempotency (also under a race),
// scheduled delivery, narrowing to named consumers, and the per-project rate limit.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
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

constexpr const char* json_type = "application/json";
constexpr std::size_t max_event_bytes = 256 * 1024;

// {"data":"aaa…","type":"big.event"} serialised to exactly `size` bytes.
std::string event_body_of_size(std::size_t size) {
  json body{{"type", "big.event"}, {"data", ""}};
  const std::size_t frame = body.dump().size();
  body["data"] = std::string(size - frame, 'a');
  return body.dump();
}

class PipelineIngest : public pipeline_suite<PipelineIngest> {};

TEST_F(PipelineIngest, ValidationErrorsNameTheFieldAndStoreNothing) {
  auto p = make_project(daemon(), "validation");
  receiver rx;
  const hook h = make_webhook(p, "everything", rx.url());
  create_subscription(p.c(), p.id, h.id, ">");

  const std::string soon = rfc3339(system_clock::now() + 60s);
  const std::vector<std::pair<json, std::string>> cases{
      {{{"data", json::object()}}, "type"},
      {{{"type", 5}, {"data", json::object()}}, "type"},
      {{{"type", "a..b"}, {"data", json::object()}}, "type"},
      {{{"type", "order.*"}, {"data", json::object()}}, "type"},
      {{{"type", std::string(300, 'a')}, {"data", json::object()}}, "type"},
      {{{"type", "ok.type"}}, "data"},
      {{{"type", "ok.type"}, {"data", json::object()}, {"deliver_at", "tomorrow"}}, "deliver_at"},
      {{{"type", "ok.type"}, {"data", json::object()}, {"deliver_at", "2199-01-01T00:00:00Z"}},
       "deliver_at"},
      {{{"type", "ok.type"}, {"data", json::object()}, {"delay", "soon"}}, "delay"},
      {{{"type", "ok.type"}, {"data", json::object()}, {"delay", "-5s"}}, "delay"},
      {{{"type", "ok.type"}, {"data", json::object()}, {"delay", "31d"}}, "delay"},
      {{{"type", "ok.type"}, {"data", json::object()}, {"deliver_at", soon}, {"delay", "1m"}}, "delay"},
      {{{"type", "ok.type"}, {"data", json::object()}, {"consumers", h.id}}, "consumers"},
      {{{"type", "ok.type"}, {"data", json::object()}, {"consumers", {"not-a-consumer"}}}, "consumers"},
      {{{"type", "ok.type"}, {"data", json::object()}, {"to", "everyone"}}, "to"},
      {{{"type", "ok.type"}, {"data", json::object()}, {"to", {{"users", "u1"}}}}, "to"},
      {{{"type", "ok.type"}, {"data", json::object()}, {"to", {{"users", {1, 2}}}}}, "to"},
      {{{"type", "ok.type"}, {"data", json::object()}, {"source", 7}}, "source"},
      {{{"type", "ok.type"}, {"data", json::object()}, {"colour", "red"}}, "colour"},
  };
  for (const auto& [body, field] : cases) {
    SCOPED_TRACE(body.dump().substr(0, 200));
    const auto r = p.c().post(p.base + "/events", body);
    expect_error(r, 400, "validation_failed");
    EXPECT_TRUE(names_field(r, field));
  }
  const auto not_object = p.c().request_raw("POST", p.base + "/events", "[1,2]", json_type);
  expect_error(not_object, 400);

  json events = expect_status(p.c().get(p.base + "/events"), 200, "GET events");
  EXPECT_TRUE(events["data"].empty()) << "a rejected event was stored: " << events;
  json deliveries = expect_status(p.c().get(p.base + "/deliveries"), 200, "GET deliveries");
  EXPECT_TRUE(deliveries["data"].empty()) << deliveries;

  // Only the valid event that follows is delivered.
  json ok = post_event(p, {{"type", "ok.type"}, {"data", json::object()}});
  ASSERT_TRUE(rx.wait_for(1, 15s));
  wait_event_deliveries(p, ok["id"].get<std::string>(), {"succeeded"});
  EXPECT_EQ(webhook_ids(rx), (std::vector<std::string>{ok["id"].get<std::string>()}));
}

TEST_F(PipelineIngest, EventsLargerThan256KiBAre413) {
  auto p = make_project(daemon(), "size");
  const auto too_big = p.c().request_raw("POST", p.base + "/events",
                                         event_body_of_size(max_event_bytes + 1), json_type);
  expect_error(too_big, 413);
  EXPECT_TRUE(names_field(too_big, "body"));
  json events = expect_status(p.c().get(p.base + "/events"), 200, "GET events");
  EXPECT_TRUE(events["data"].empty()) << "an oversized event was stored";

  const auto at_limit = p.c().request_raw("POST", p.base + "/events",
                                          event_body_of_size(max_event_bytes), json_type);
  EXPECT_EQ(at_limit.status, 202) << "256 KiB itself is allowed: " << at_limit.body.substr(0, 300);
  events = expect_status(p.c().get(p.base + "/events"), 200, "GET events");
  EXPECT_EQ(events["data"].size(), 1u);
}

TEST_F(PipelineIngest, BatchAcceptsTheValidEventsAndReportsTheOthers) {
  auto p = make_project(daemon(), "batch");
  receiver rx;
  const hook h = make_webhook(p, "batch sink", rx.url());
  create_subscription(p.c(), p.id, h.id, "batch.>");

  const auto r = p.c().post(p.base + "/events/batch",
                            {{"events",
                              {{{"type", "batch.one"}, {"data", {{"n", 1}}}},
                               {{"type", "batch..two"}, {"data", {{"n", 2}}}},
                               {{"type", "batch.three"}, {"data", {{"n", 3}}}}}}});
  ASSERT_EQ(r.status, 202) << r.body;
  json data = r.json()["data"];
  ASSERT_TRUE(data.is_array() && data.size() == 3) << r.body;
  std::set<std::string> accepted;
  for (const std::size_t i : {0u, 2u}) {
    SCOPED_TRACE(i);
    EXPECT_TRUE(is_id("evt", data[i]["id"])) << data[i];
    EXPECT_EQ(data[i]["deliveries"], 1) << data[i];
    EXPECT_EQ(data[i]["duplicate"], false) << data[i];
    EXPECT_FALSE(data[i].contains("error")) << data[i];
    accepted.insert(data[i].value("id", ""));
  }
  ASSERT_TRUE(data[1].contains("error")) << data[1];
  EXPECT_FALSE(data[1].contains("id")) << data[1];
  EXPECT_EQ(data[1]["error"]["code"], "validation_failed") << data[1];
  bool names_type = false;
  for (const auto& d : data[1]["error"].value("details", json::array())) {
    names_type = names_type || d.value("field", "") == "type";
  }
  EXPECT_TRUE(names_type) << data[1];

  json events = expect_status(p.c().get(p.base + "/events"), 200, "GET events");
  std::set<std::string> stored;
  for (const auto& e : events["data"]) stored.insert(e.value("id", ""));
  EXPECT_EQ(stored, accepted);
  ASSERT_TRUE(rx.wait_for(2, 15s));
  for (const auto& id : accepted) wait_event_deliveries(p, id, {"succeeded"});
  const auto ids = webhook_ids(rx);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), accepted);
  EXPECT_EQ(ids.size(), 2u);

  json too_many = json::array();
  for (int i = 0; i < 501; ++i) too_many.push_back({{"type", "batch.many"}, {"data", i}});
  const auto over = p.c().post(p.base + "/events/batch", {{"events", too_many}});
  expect_error(over, 400, "validation_failed");
  EXPECT_TRUE(names_field(over, "events"));
}

TEST_F(PipelineIngest, IdempotencyKeyAndBodyId) {
  auto p = make_project(daemon(), "idempotency");
  receiver rx;
  const hook h = make_webhook(p, "once", rx.url());
  create_subscription(p.c(), p.id, h.id, ">");
  const std::vector<std::pair<std::string, std::string>> key{{"Idempotency-Key", "order-42-created"}};

  const json body{{"type", "order.created"}, {"data", {{"order", 42}}}};
  json first = post_event(p, body, key);
  EXPECT_EQ(first["duplicate"], false);
  EXPECT_EQ(first["deliveries"], 1);
  json again = post_event(p, body, key);
  EXPECT_EQ(again["id"], first["id"]);
  EXPECT_EQ(again["duplicate"], true);
  EXPECT_EQ(again["deliveries"], 1);
  const auto conflict = p.c().request("POST", p.base + "/events",
                                      {{"type", "order.created"}, {"data", {{"order", 43}}}}, key);
  expect_error(conflict, 409, "idempotency_conflict");
  EXPECT_TRUE(names_field(conflict, "Idempotency-Key"));

  // The body's "id" is the same mechanism.
  const json with_id{{"type", "order.created"}, {"id", "client-key-7"}, {"data", {{"order", 7}}}};
  json own = post_event(p, with_id);
  EXPECT_EQ(own["duplicate"], false);
  json own_again = post_event(p, with_id);
  EXPECT_EQ(own_again["id"], own["id"]);
  EXPECT_EQ(own_again["duplicate"], true);
  const auto own_conflict = p.c().post(
      p.base + "/events", {{"type", "order.created"}, {"id", "client-key-7"}, {"data", {{"order", 8}}}});
  expect_error(own_conflict, 409, "idempotency_conflict");
  EXPECT_TRUE(names_field(own_conflict, "id"));

  json events = expect_status(p.c().get(p.base + "/events"), 200, "GET events");
  ASSERT_EQ(events["data"].size(), 2u) << events;
  json stored = expect_status(p.c().get(p.base + "/events/" + first["id"].get<std::string>()), 200,
                              "GET event");
  EXPECT_EQ(stored["idempotency_key"], "order-42-created");
  EXPECT_EQ(stored["payload"]["data"], (json{{"order", 42}}));

  // One delivery each, so one request each: duplicates are not delivered again.
  wait_event_deliveries(p, first["id"].get<std::string>(), {"succeeded"});
  wait_event_deliveries(p, own["id"].get<std::string>(), {"succeeded"});
  json deliveries = expect_status(p.c().get(p.base + "/deliveries"), 200, "GET deliveries");
  EXPECT_EQ(deliveries["data"].size(), 2u) << deliveries;
  ASSERT_TRUE(rx.wait_for(2, 15s));
  EXPECT_EQ(id_multiset(rx), (std::multiset<std::string>{first["id"].get<std::string>(),
                                                         own["id"].get<std::string>()}));
}

// DESIGN §4: UNIQUE (project_id, idempotency_key) decides; 1,000 concurrent posts of one key and
// body make one event and one delivery, and every answer names it.
TEST_F(PipelineIngest, ConcurrentPostsWithOneKeyMakeOneEvent) {
  auto p = make_project(daemon(), "race");
  receiver rx;
  const hook h = make_webhook(p, "raced", rx.url());
  create_subscription(p.c(), p.id, h.id, ">");

  const std::string body = json{{"type", "payment.captured"}, {"data", {{"amount", 100}}}}.dump();
  constexpr int total = 1000;
  constexpr int threads = 16;
  struct outcome {
    int status = 0;
    std::string id;
    bool duplicate = true;
    int deliveries = -1;
    std::string problem;
  };
  std::atomic<int> next{0};
  std::vector<std::vector<outcome>> results(threads);
  std::vector<std::thread> pool;
  const std::uint16_t port = daemon().port();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      try {
        http_client c(port);
        c.set_token(p.key);
        while (next.fetch_add(1) < total) {
          const auto r = c.request_raw("POST", p.base + "/events", body, json_type,
                                       {{"Idempotency-Key", "race-key-1"}});
          outcome o;
          o.status = r.status;
          const auto j = json::parse(r.body, nullptr, false);
          if (j.is_object()) {
            o.id = j.value("id", "");
            o.duplicate = j.value("duplicate", true);
            o.deliveries = j.value("deliveries", -1);
          }
          if (r.status != 202) o.problem = r.body;
          results[static_cast<std::size_t>(t)].push_back(std::move(o));
        }
      } catch (const std::exception& e) {
        outcome o;
        o.problem = e.what();
        results[static_cast<std::size_t>(t)].push_back(std::move(o));
      }
    });
  }
  for (auto& th : pool) th.join();

  std::size_t answered = 0;
  std::size_t created = 0;
  std::set<std::string> ids;
  std::vector<std::string> problems;
  for (const auto& list : results) {
    for (const auto& o : list) {
      ++answered;
      if (o.status != 202) problems.push_back(std::to_string(o.status) + " " + o.problem);
      ids.insert(o.id);
      if (o.status == 202 && !o.duplicate) ++created;
      if (o.status == 202) EXPECT_EQ(o.deliveries, 1);
    }
  }
  EXPECT_EQ(answered, static_cast<std::size_t>(total));
  EXPECT_TRUE(problems.empty()) << problems.size() << " posts were not 202, e.g. " << problems.front();
  ASSERT_EQ(ids.size(), 1u) << "the posts named different events";
  EXPECT_EQ(created, 1u) << "exactly one post creates the event, the others are duplicates";

  json events = expect_status(p.c().get(p.base + "/events"), 200, "GET events");
  ASSERT_EQ(events["data"].size(), 1u) << events;
  EXPECT_EQ(events["data"][0]["id"], *ids.begin());
  json deliveries = expect_status(p.c().get(p.base + "/deliveries"), 200, "GET deliveries");
  ASSERT_EQ(deliveries["data"].size(), 1u) << deliveries;
  const std::string dlv = deliveries["data"][0]["id"].get<std::string>();
  EXPECT_TRUE(status_in(wait_delivery(p, dlv, {"succeeded"}), {"succeeded"}));
  ASSERT_TRUE(rx.wait_for(1, 15s));
  EXPECT_EQ(webhook_ids(rx), (std::vector<std::string>{*ids.begin()}));
}

TEST_F(PipelineIngest, ScheduledDeliveryWaitsUntilItIsDue) {
  auto p = make_project(daemon(), "scheduled");
  receiver rx;
  const hook h = make_webhook(p, "later", rx.url());
  create_subscription(p.c(), p.id, h.id, ">");

  const auto t0 = system_clock::now();
  json at = post_event(p, {{"type", "reminder.due"},
                           {"data", {{"via", "deliver_at"}}},
                           {"deliver_at", rfc3339(t0 + 2s)}});
  json after = post_event(p, {{"type", "reminder.due"}, {"data", {{"via", "delay"}}}, {"delay", "2s"}});
  std::multiset<std::string> expected;
  for (auto* e : {&at, &after}) {
    SCOPED_TRACE((*e)["id"].get<std::string>());
    EXPECT_EQ((*e)["deliveries"], 1);
    expected.insert((*e)["id"].get<std::string>());
    const std::string dlv = only_delivery(p, (*e)["id"].get<std::string>());
    json d = expect_status(p.c().get(p.base + "/deliveries/" + dlv), 200, "GET delivery");
    EXPECT_EQ(d["status"], "scheduled") << d;
    const auto next = unix_seconds(d["next_attempt_at"]);
    ASSERT_TRUE(next.has_value()) << d;
    const auto due = std::chrono::duration_cast<std::chrono::seconds>(
                         (t0 + 2s).time_since_epoch())
                         .count();
    EXPECT_NEAR(static_cast<double>(*next), static_cast<double>(due), 2.0) << d;
    json event = expect_status(p.c().get(p.base + "/events/" + (*e)["id"].get<std::string>()), 200,
                               "GET event");
    EXPECT_FALSE(event["deliver_at"].is_null()) << event;
  }

  const auto early = t0 + 1500ms - system_clock::now();
  if (early > 0ms) {
    EXPECT_FALSE(rx.wait_for(1, std::chrono::duration_cast<milliseconds>(early)))
        << "a scheduled event arrived early";
  }
  ASSERT_TRUE(rx.wait_for(2, 15s)) << "scheduled events did not arrive";
  for (const auto& req : rx.requests()) {
    EXPECT_GE(ms_between(t0, req.at), 1900) << req.header("webhook-id").value_or("?");
  }
  EXPECT_EQ(id_multiset(rx), expected);
}

TEST_F(PipelineIngest, ConsumersNarrowTheTargets) {
  auto p = make_project(daemon(), "narrow");
  receiver rx1;
  receiver rx2;
  const hook c1 = make_webhook(p, "one", rx1.url());
  const hook c2 = make_webhook(p, "two", rx2.url());
  create_subscription(p.c(), p.id, c1.id, ">");
  create_subscription(p.c(), p.id, c2.id, ">");

  json only_one = post_event(p, {{"type", "narrow.me"}, {"data", {{"n", 1}}}, {"consumers", {c1.id}}});
  EXPECT_EQ(only_one["deliveries"], 1);
  json listed = deliveries_of(p, only_one["id"].get<std::string>());
  ASSERT_EQ(listed.size(), 1u) << listed;
  EXPECT_EQ(listed[0]["consumer_id"], c1.id);

  json both = post_event(p, {{"type", "narrow.me"}, {"data", {{"n", 2}}}});
  EXPECT_EQ(both["deliveries"], 2);

  for (const auto& e : {only_one, both}) {
    wait_event_deliveries(p, e.at("id").get<std::string>(), {"succeeded"});
  }
  ASSERT_TRUE(rx1.wait_for(2, 15s));
  ASSERT_TRUE(rx2.wait_for(1, 15s));
  EXPECT_EQ(id_multiset(rx1), (std::multiset<std::string>{only_one["id"].get<std::string>(),
                                                          both["id"].get<std::string>()}));
  EXPECT_EQ(id_multiset(rx2), (std::multiset<std::string>{both["id"].get<std::string>()}));
}

// The ingest bucket is per project (DESIGN §6): one project over its rate gets 429 with
// Retry-After and stores nothing more; its neighbour is not affected.
TEST(PipelineIngestRateLimit, PerProjectBucket) {
  test::daemon_process d(
      pipeline_daemon({{"PSIG_INGEST_RATE_PER_SECOND", "5"}, {"PSIG_INGEST_BURST", "5"}}));
  auto a = make_project(d, "limited");
  auto b = make_project(d, "neighbour");

  const auto start = steady_clock::now();
  int accepted = 0;
  std::optional<http_reply> limited;
  for (int i = 0; i < 40 && !limited; ++i) {
    auto r = a.c().post(a.base + "/events", {{"type", "tick"}, {"data", {{"i", i}}}});
    if (r.status == 202) {
      ++accepted;
    } else {
      limited = std::move(r);
    }
  }
  const auto elapsed_ms =
      std::chrono::duration_cast<milliseconds>(steady_clock::now() - start).count();
  ASSERT_TRUE(limited.has_value()) << "40 quick posts were never limited";
  expect_error(*limited, 429, "rate_limited");
  const auto retry_after = limited->header("retry-after");
  ASSERT_TRUE(retry_after.has_value()) << "429 without Retry-After";
  const int wait_s = std::atoi(retry_after->c_str());
  EXPECT_GE(wait_s, 1) << *retry_after;
  EXPECT_LE(wait_s, 5) << *retry_after;
  // The burst (5) passes; beyond it only what the rate refilled meanwhile.
  EXPECT_GE(accepted, 5);
  EXPECT_LE(accepted, 5 + 1 + static_cast<int>(elapsed_ms * 5 / 1000)) << elapsed_ms << " ms";
  if (elapsed_ms < 150) EXPECT_EQ(accepted, 5) << "the 6th quick post must be 429";

  // Another project has a bucket of its own.
  for (int i = 0; i < 5; ++i) {
    const auto r = b.c().post(b.base + "/events", {{"type", "tick"}, {"data", {{"i", i}}}});
    EXPECT_EQ(r.status, 202) << "the neighbour was limited: " << r.body;
  }

  // Refused posts stored nothing.
  json events = expect_status(a.c().get(a.base + "/events?limit=200"), 200, "GET events");
  EXPECT_EQ(events["data"].size(), static_cast<std::size_t>(accepted));

  // After Retry-After the project may post again.
  std::this_thread::sleep_for(std::chrono::seconds(std::max(1, std::min(wait_s, 5))));
  const auto later = a.c().post(a.base + "/events", {{"type", "tick"}, {"data", {{"i", 99}}}});
  EXPECT_EQ(later.status, 202) << later.body;
}

}  // namespace
}  // namespace psig::e2e::pipeline
