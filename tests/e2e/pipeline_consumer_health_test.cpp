// Consumer-level controls end to end (DESIGN §8): a consumer failing without a success for
// longer than the configured window is disabled, and a per-consumer rate limit spaces attempts.
#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "e2e/e2e_helpers.hpp"
#include "e2e/pipeline_helpers.hpp"
#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/receiver.hpp"

namespace psig::e2e::pipeline {
namespace {

TEST(PipelineConsumerHealth, ConsumerFailingTooLongIsDisabled) {
  test::daemon_process d(pipeline_daemon({{"PSIG_CONSUMER_DISABLE_AFTER_HOURS", "1"}}));
  auto p = make_project(d, "failing");
  receiver rx;
  rx.respond_with(answer_with(500));
  const hook h = make_webhook(p, "failing", rx.url());
  create_subscription(p.c(), p.id, h.id, ">");
  // Time travel: the consumer has been failing, without a success, for two hours already.
  {
    pqxx::connection c(d.database_url());
    pqxx::work w(c);
    w.exec_params("UPDATE consumers SET failing_since = now() - interval '2 hours' WHERE id = $1", h.id);
    w.commit();
  }
  json accepted = post_event(p, {{"type", "order.created"}, {"data", {{"n", 1}}}});
  ASSERT_EQ(accepted["deliveries"], 1);
  const std::string dlv = only_delivery(p, accepted["id"].get<std::string>());
  ASSERT_FALSE(wait_attempts(p, dlv, 1).is_null());

  json consumer = poll(p.c(), p.base + "/consumers/" + h.id,
                       [](const json& c) { return c.value("status", "") == "disabled"; }, 10s);
  EXPECT_EQ(consumer["status"], "disabled") << consumer;
  EXPECT_NE(consumer["disabled_reason"].get<std::string>().find("failing"), std::string::npos)
      << consumer;
  // Disabled consumers leave the routing cache at once.
  json next = post_event(p, {{"type", "order.created"}, {"data", {{"n", 2}}}});
  EXPECT_EQ(next["deliveries"], 0);
}

TEST(PipelineConsumerHealth, AFreshFailureDoesNotDisable) {
  test::daemon_process d(pipeline_daemon({{"PSIG_CONSUMER_DISABLE_AFTER_HOURS", "1"}}));
  auto p = make_project(d, "young-failure");
  receiver rx;
  rx.respond_with(answer_with(503));
  const hook h = make_webhook(p, "young", rx.url());
  create_subscription(p.c(), p.id, h.id, ">");
  json accepted = post_event(p, {{"type", "order.created"}, {"data", {{"n", 1}}}});
  const std::string dlv = only_delivery(p, accepted["id"].get<std::string>());
  ASSERT_FALSE(wait_attempts(p, dlv, 1).is_null());
  json consumer = expect_status(p.c().get(p.base + "/consumers/" + h.id), 200, "GET consumer");
  EXPECT_EQ(consumer["status"], "enabled") << consumer;
}

TEST(PipelineConsumerHealth, RateLimitSpacesAttempts) {
  test::daemon_process d(pipeline_daemon({{"PSIG_LOG_LEVEL", "info"}}));
  auto p = make_project(d, "rate");
  receiver rx;
  // Two per second (the burst is the rate): six events need at least ~2 s.
  const hook h = make_webhook(p, "slowly", rx.url(), {{"settings", {{"rate_limit_per_second", 2}}}});
  create_subscription(p.c(), p.id, h.id, ">");
  const auto start = system_clock::now();
  for (int i = 0; i < 6; ++i) post_event(p, {{"type", "tick"}, {"data", {{"i", i}}}});
  ASSERT_TRUE(rx.wait_for(6, std::chrono::seconds(15))) << rx.count() << " of 6 arrived\n" << d.output();
  const auto reqs = rx.requests();
  std::vector<system_clock::time_point> at;
  for (const auto& r : reqs) at.push_back(r.at);
  std::sort(at.begin(), at.end());
  EXPECT_GE(ms_between(start, at.back()), 1500) << "six attempts at two per second";
  std::size_t first_second = 0;
  for (const auto& t : at) first_second += ms_between(at.front(), t) < 900 ? 1 : 0;
  EXPECT_LE(first_second, 3u) << "at most the burst (and one refill) in the first second";
}

}  // namespace
}  // namespace psig::e2e::pipeline
