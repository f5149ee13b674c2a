// Failed deliveries end to end (DESIGN §3, §7, §8): retries on the schedule until 2xx or dead,
// manual retry, discard and bulk retry, 410 disabling the consumer, Retry-After, timeouts,
// redirects that are not followed, and the 16 KiB cap on stored response bodies.
#include <atomic>
#include <memory>
#include <set>
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

constexpr std::size_t max_kept_body = 16 * 1024;

// Answers `status` to every request while `*fail` is true, 200 afterwards.
std::function<scripted_response(const received_request&)> failing_while(
    std::shared_ptr<std::atomic<bool>> fail, int status) {
  return [fail, status](const received_request&) {
    scripted_response s;
    s.status = fail->load() ? status : 200;
    if (s.status != 200) s.body = R"({"error":"boom"})";
    return s;
  };
}

class PipelineRetry : public pipeline_suite<PipelineRetry> {
 public:
  // Two retries one second apart (±20 % jitter): a delivery is dead after its third attempt.
  static std::map<std::string, std::string> daemon_env() { return {{"PSIG_RETRY_SCHEDULE", "1,1"}}; }
};

TEST_F(PipelineRetry, RetriesUntilTheReceiverAnswers2xx) {
  auto p = make_project(daemon(), "retry-success");
  receiver rx;
  auto calls = std::make_shared<std::atomic<int>>(0);
  rx.respond_with([calls](const received_request&) {
    scripted_response s;
    s.status = ++*calls <= 2 ? 500 : 200;
    if (s.status == 500) s.body = R"({"error":"boom"})";
    return s;
  });
  const hook h = make_webhook(p, "flaky", rx.url());
  create_subscription(p.c(), p.id, h.id, ">");

  json accepted = post_event(p, {{"type", "order.created"}, {"data", {{"n", 1}}}});
  const std::string event_id = accepted["id"].get<std::string>();
  ASSERT_TRUE(rx.wait_for(3, 15s)) << "got " << rx.count() << " requests";
  const std::string dlv = only_delivery(p, event_id);
  json d = wait_delivery(p, dlv, {"succeeded"});
  ASSERT_TRUE(status_in(d, {"succeeded"})) << d;
  EXPECT_EQ(d["attempt_count"], 3) << d;
  EXPECT_EQ(d["last_status_code"], 200) << d;
  EXPECT_EQ(attempt_codes(d), (std::vector<int>{500, 500, 200})) << d;
  for (std::size_t i = 0; i < d["attempts"].size(); ++i) {
    EXPECT_EQ(d["attempts"][i]["attempt"], i + 1) << d;
  }
  EXPECT_EQ(d["attempts"][0]["response_body"], R"({"error":"boom"})") << d;

  // Every retry carries the same webhook-id and body, freshly signed, about a second apart.
  const auto reqs = rx.requests();
  ASSERT_EQ(reqs.size(), 3u);
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    SCOPED_TRACE("request " + std::to_string(i + 1));
    EXPECT_EQ(reqs[i].header("webhook-id"), event_id);
    EXPECT_EQ(reqs[i].body, reqs[0].body);
    EXPECT_TRUE(signature_ok(reqs[i], h.secret));
    if (i > 0) {
      EXPECT_GE(ms_between(reqs[i - 1].at, reqs[i].at), 700) << "retried before the schedule said";
      EXPECT_GE(header_seconds(reqs[i]).value_or(0), header_seconds(reqs[i - 1]).value_or(0));
    }
  }
  EXPECT_EQ(rx.count(), 3u) << "a succeeded delivery is not tried again";
}

TEST_F(PipelineRetry, DeadAfterTheScheduleThenRetriedByHand) {
  auto p = make_project(daemon(), "retry-dead");
  receiver rx;
  auto fail = std::make_shared<std::atomic<bool>>(true);
  rx.respond_with(failing_while(fail, 500));
  const hook h = make_webhook(p, "broken", rx.url());
  create_subscription(p.c(), p.id, h.id, ">");

  json accepted = post_event(p, {{"type", "order.created"}, {"data", {{"n", 1}}}});
  const std::string dlv = only_delivery(p, accepted["id"].get<std::string>());
  json d = wait_delivery(p, dlv, {"dead"});
  ASSERT_TRUE(status_in(d, {"dead"})) << d;
  EXPECT_EQ(attempt_codes(d), (std::vector<int>{500, 500, 500})) << d;
  EXPECT_TRUE(d["next_attempt_at"].is_null()) << d;
  EXPECT_FALSE(rx.wait_for(4, 2500ms)) << "a dead delivery was tried again";
  EXPECT_EQ(rx.count(), 3u);

  fail->store(false);
  const auto retried = p.c().post(p.base + "/deliveries/" + dlv + "/retry");
  ASSERT_EQ(retried.status, 202) << retried.body;
  EXPECT_EQ(retried.json()["id"], dlv);
  d = wait_delivery(p, dlv, {"succeeded"});
  ASSERT_TRUE(status_in(d, {"succeeded"})) << d;
  EXPECT_EQ(attempt_codes(d), (std::vector<int>{500, 500, 500, 200})) << d;
  EXPECT_EQ(d["attempts"][3]["attempt"], 4) << d;
  EXPECT_EQ(rx.count(), 4u);

  expect_error(p.c().post(p.base + "/deliveries/dlv_01ARZ3NDEKTSV4RRFFQ69G5FAV/retry"), 404,
               "not_found");
}

TEST_F(PipelineRetry, DiscardStopsRetries) {
  auto p = make_project(daemon(), "discard");
  receiver rx;
  auto fail = std::make_shared<std::atomic<bool>>(true);
  rx.respond_with(failing_while(fail, 503));
  // A two-second pause after the first failure leaves time to discard the delivery.
  const hook h = make_webhook(p, "discarded", rx.url(), {{"settings", {{"retry_schedule", {2}}}}});
  create_subscription(p.c(), p.id, h.id, ">");

  json accepted = post_event(p, {{"type", "order.created"}, {"data", {{"n", 1}}}});
  const std::string dlv = only_delivery(p, accepted["id"].get<std::string>());
  json d = wait_delivery(p, dlv, {"retrying", "dead"});
  ASSERT_TRUE(status_in(d, {"retrying"})) << d;
  const auto discarded = p.c().post(p.base + "/deliveries/" + dlv + "/discard");
  ASSERT_EQ(discarded.status, 200) << discarded.body;
  EXPECT_EQ(discarded.json()["status"], "discarded");
  EXPECT_FALSE(rx.wait_for(2, 3000ms)) << "a discarded delivery was tried again";
  d = expect_status(p.c().get(p.base + "/deliveries/" + dlv), 200, "GET delivery");
  EXPECT_EQ(d["status"], "discarded");
  EXPECT_EQ(attempt_codes(d), (std::vector<int>{503}));

  // A succeeded delivery cannot be discarded; a discarded one can be retried.
  fail->store(false);
  json later = post_event(p, {{"type", "order.created"}, {"data", {{"n", 2}}}});
  const std::string ok = only_delivery(p, later["id"].get<std::string>());
  ASSERT_TRUE(status_in(wait_delivery(p, ok, {"succeeded"}), {"succeeded"}));
  expect_error(p.c().post(p.base + "/deliveries/" + ok + "/discard"), 409);
  ASSERT_EQ(p.c().post(p.base + "/deliveries/" + dlv + "/retry").status, 202);
  d = wait_delivery(p, dlv, {"succeeded"});
  EXPECT_EQ(attempt_codes(d), (std::vector<int>{503, 200})) << d;
}

TEST_F(PipelineRetry, BulkRetryIsADryRunUntilConfirmed) {
  auto p = make_project(daemon(), "bulk");
  receiver rx;
  receiver healthy;
  auto fail = std::make_shared<std::atomic<bool>>(true);
  rx.respond_with(failing_while(fail, 500));
  // One immediate retry: dead after two attempts.
  const hook h = make_webhook(p, "bulk", rx.url(), {{"settings", {{"retry_schedule", {0}}}}});
  const hook fine = make_webhook(p, "fine", healthy.url());
  create_subscription(p.c(), p.id, h.id, ">");
  create_subscription(p.c(), p.id, fine.id, ">");

  std::set<std::string> dead;
  for (int i = 0; i < 3; ++i) {
    json accepted = post_event(p, {{"type", "order.created"}, {"data", {{"n", i}}}});
    for (const auto& del : deliveries_of(p, accepted["id"].get<std::string>())) {
      if (del.at("consumer_id") == h.id) dead.insert(del.at("id").get<std::string>());
    }
  }
  ASSERT_EQ(dead.size(), 3u);
  for (const auto& id : dead) {
    ASSERT_TRUE(status_in(wait_delivery(p, id, {"dead"}), {"dead"})) << id;
  }
  ASSERT_TRUE(healthy.wait_for(3, 15s));
  const std::size_t tried = rx.count();
  EXPECT_EQ(tried, 6u);

  const auto dry = p.c().post(p.base + "/deliveries/bulk-retry", json::object());
  ASSERT_EQ(dry.status, 200) << dry.body;
  json preview = dry.json();
  EXPECT_EQ(preview["dry_run"], true) << preview;
  EXPECT_EQ(preview["count"], 3) << preview;
  ASSERT_TRUE(preview["sample"].is_array()) << preview;
  EXPECT_EQ(preview["sample"].get<std::set<std::string>>(), dead) << preview;
  json other = expect_status(
      p.c().post(p.base + "/deliveries/bulk-retry", {{"consumer", fine.id}}), 200, "dry run");
  EXPECT_EQ(other["count"], 0) << other;

  // A dry run changes nothing.
  json still = expect_status(p.c().get(p.base + "/deliveries?status=dead"), 200, "list dead");
  EXPECT_EQ(still["data"].size(), 3u) << still;
  EXPECT_FALSE(rx.wait_for(tried + 1, 500ms)) << "a dry run sent something";

  fail->store(false);
  const auto run = p.c().post(p.base + "/deliveries/bulk-retry", {{"confirm", true}});
  ASSERT_EQ(run.status, 202) << run.body;
  EXPECT_EQ(run.json()["dry_run"], false) << run.body;
  EXPECT_EQ(run.json()["count"], 3) << run.body;
  for (const auto& id : dead) {
    json d = wait_delivery(p, id, {"succeeded"});
    EXPECT_EQ(attempt_codes(d), (std::vector<int>{500, 500, 200})) << d;
  }
  EXPECT_EQ(rx.count(), tried + 3);
  json again = expect_status(p.c().post(p.base + "/deliveries/bulk-retry", json::object()), 200,
                             "dry run after");
  EXPECT_EQ(again["count"], 0) << again;
}

TEST_F(PipelineRetry, GoneDisablesTheConsumer) {
  auto p = make_project(daemon(), "gone");
  receiver rx;
  rx.respond_with(answer_with(410));
  const hook h = make_webhook(p, "gone", rx.url());
  create_subscription(p.c(), p.id, h.id, ">");

  json accepted = post_event(p, {{"type", "order.created"}, {"data", {{"n", 1}}}});
  const std::string dlv = only_delivery(p, accepted["id"].get<std::string>());
  json d = wait_delivery(p, dlv, {"dead"});
  ASSERT_TRUE(status_in(d, {"dead"})) << d;
  EXPECT_EQ(attempt_codes(d), (std::vector<int>{410})) << "410 is final: " << d;

  json consumer = expect_status(p.c().get(p.base + "/consumers/" + h.id), 200, "GET consumer");
  EXPECT_EQ(consumer["status"], "disabled") << consumer;
  EXPECT_TRUE(consumer["disabled_reason"].is_string()) << consumer;

  json next = post_event(p, {{"type", "order.created"}, {"data", {{"n", 2}}}});
  EXPECT_EQ(next["deliveries"], 0) << "a disabled consumer gets no new deliveries";
  EXPECT_FALSE(rx.wait_for(2, 1500ms));
  EXPECT_EQ(rx.count(), 1u);
}

TEST_F(PipelineRetry, RetryAfterIsHonoured) {
  auto p = make_project(daemon(), "retry-after");
  receiver rx;
  auto calls = std::make_shared<std::atomic<int>>(0);
  rx.respond_with([calls](const received_request&) {
    scripted_response s;
    if (++*calls == 1) {
      s.status = 429;
      s.headers.emplace_back("Retry-After", "1");
    }
    return s;
  });
  // Without Retry-After this consumer would be retried at once.
  const hook h = make_webhook(p, "throttled", rx.url(), {{"settings", {{"retry_schedule", {0, 0}}}}});
  create_subscription(p.c(), p.id, h.id, ">");

  json accepted = post_event(p, {{"type", "order.created"}, {"data", {{"n", 1}}}});
  ASSERT_TRUE(rx.wait_for(2, 15s));
  const auto reqs = rx.requests();
  EXPECT_GE(ms_between(reqs[0].at, reqs[1].at), 950) << "Retry-After: 1 was not honoured";
  const std::string dlv = only_delivery(p, accepted["id"].get<std::string>());
  json d = wait_delivery(p, dlv, {"succeeded"});
  EXPECT_EQ(attempt_codes(d), (std::vector<int>{429, 200})) << d;
}

TEST_F(PipelineRetry, SlowReceiverTimesOut) {
  auto p = make_project(daemon(), "timeout");
  receiver rx;
  auto calls = std::make_shared<std::atomic<int>>(0);
  rx.respond_with([calls](const received_request&) {
    scripted_response s;
    if (++*calls == 1) s.delay = 3000ms;  // far beyond the consumer's 300 ms
    return s;
  });
  const hook h = make_webhook(p, "slow", rx.url(),
                              {{"settings", {{"timeout_ms", 300}, {"retry_schedule", {0}}}}});
  create_subscription(p.c(), p.id, h.id, ">");

  json accepted = post_event(p, {{"type", "order.created"}, {"data", {{"n", 1}}}});
  const std::string dlv = only_delivery(p, accepted["id"].get<std::string>());
  json d = wait_attempts(p, dlv, 1);
  ASSERT_TRUE(d.is_object() && d["attempts"].size() >= 1) << d;
  json first = d["attempts"][0];
  EXPECT_EQ(first["error_class"], "timeout") << first;
  EXPECT_TRUE(first["status_code"].is_null()) << first;
  ASSERT_TRUE(first["duration_ms"].is_number_integer()) << first;
  EXPECT_GE(first["duration_ms"].get<long long>(), 250) << first;
  EXPECT_LT(first["duration_ms"].get<long long>(), 2500) << "the timeout did not cut the attempt";

  d = wait_delivery(p, dlv, {"succeeded"});
  EXPECT_EQ(attempt_codes(d), (std::vector<int>{-1, 200})) << d;
}

TEST_F(PipelineRetry, RedirectsAreNotFollowed) {
  auto p = make_project(daemon(), "redirect");
  receiver rx;
  receiver elsewhere;
  const std::string target = elsewhere.url("/elsewhere");
  rx.respond_with([target](const received_request&) {
    scripted_response s;
    s.status = 302;
    s.headers.emplace_back("Location", target);
    return s;
  });
  const hook h = make_webhook(p, "redirecting", rx.url(), {{"settings", {{"retry_schedule", {0}}}}});
  create_subscription(p.c(), p.id, h.id, ">");

  json accepted = post_event(p, {{"type", "order.created"}, {"data", {{"n", 1}}}});
  const std::string dlv = only_delivery(p, accepted["id"].get<std::string>());
  json d = wait_delivery(p, dlv, {"dead"});
  ASSERT_TRUE(status_in(d, {"retrying", "dead"})) << d;
  EXPECT_EQ(attempt_codes(d), (std::vector<int>{302, 302})) << "a redirect is a failure: " << d;
  EXPECT_EQ(d["last_status_code"], 302) << d;
  EXPECT_EQ(elsewhere.count(), 0u) << "the redirect was followed";
  EXPECT_EQ(elsewhere.connections(), 0u) << "the redirect target was contacted";
}

TEST_F(PipelineRetry, StoredResponseBodyIsCappedAt16KiB) {
  auto p = make_project(daemon(), "big-response");
  receiver rx;
  rx.respond_with([](const received_request&) {
    scripted_response s;
    s.body = std::string(1024 * 1024, 'x');
    return s;
  });
  const hook h = make_webhook(p, "chatty", rx.url());
  create_subscription(p.c(), p.id, h.id, ">");

  json accepted = post_event(p, {{"type", "order.created"}, {"data", {{"n", 1}}}});
  const std::string dlv = only_delivery(p, accepted["id"].get<std::string>());
  json d = wait_delivery(p, dlv, {"succeeded"});
  ASSERT_TRUE(status_in(d, {"succeeded"})) << d.dump().substr(0, 500);
  ASSERT_EQ(d["attempts"].size(), 1u);
  json body = d["attempts"][0]["response_body"];
  ASSERT_TRUE(body.is_string()) << "no response body kept";
  const auto kept = body.get<std::string>();
  EXPECT_LE(kept.size(), max_kept_body);
  EXPECT_GT(kept.size(), 0u);
  EXPECT_EQ(kept.find_first_not_of('x'), std::string::npos) << "the kept part is not the body's start";

  // The daemon is still fine afterwards.
  json next = post_event(p, {{"type", "order.created"}, {"data", {{"n", 2}}}});
  const std::string dlv2 = only_delivery(p, next["id"].get<std::string>());
  EXPECT_TRUE(status_in(wait_delivery(p, dlv2, {"succeeded"}), {"succeeded"}));
}

}  // namespace
}  // namespace psig::e2e::pipeline
