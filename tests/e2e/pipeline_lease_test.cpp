// The in-flight lease (DESIGN §3): a published webhook delivery keeps its outbox row, due again
// after delivery_lease_seconds (or, handed off after its commit, after the hand-off grace),
// until its attempt is recorded; a lease that runs out with no
// attempt (a lost message) makes the relay publish the delivery again — the sweeper; a row whose
// attempt is already recorded is dropped, not published.
#include <string>

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

class PipelineLease : public pipeline_suite<PipelineLease> {
 public:
  static std::map<std::string, std::string> daemon_env() { return {{"PSIG_DELIVERY_LEASE_SECONDS", "30"}}; }

  int sql_int(const std::string& query, const std::string& arg) {
    pqxx::connection c(daemon().database_url());
    pqxx::read_transaction r(c);
    return r.exec_params1(query, arg)[0].as<int>();
  }
  void sql(const std::string& statement, const std::string& arg) {
    pqxx::connection c(daemon().database_url());
    pqxx::work w(c);
    w.exec_params(statement, arg);
    w.commit();
  }
  // Waits until `query` (one int, taking `arg`) gives `want`; returns the last value.
  int wait_sql(const std::string& query, const std::string& arg, int want, milliseconds timeout = 10s) {
    const auto deadline = steady_clock::now() + timeout;
    int got = sql_int(query, arg);
    while (got != want && steady_clock::now() < deadline) {
      std::this_thread::sleep_for(25ms);
      got = sql_int(query, arg);
    }
    return got;
  }
};

const std::string lease_rows = "SELECT count(*) FROM outbox WHERE delivery_id = $1";

// Posts `event` to a webhook whose receiver holds each attempt open; while the attempt runs, the
// delivery's outbox row must match `running_row` (a condition on outbox); once it succeeds, the
// row must be gone.
void expect_row_until_attempt(test::daemon_process& d, PipelineLease& t, const std::string& name,
                              const json& event, const std::string& running_row) {
  auto p = make_project(d, name);
  receiver rx;
  rx.respond_with([](const received_request&) {
    scripted_response s;
    s.delay = 1500ms;
    return s;
  });
  const hook h = make_webhook(p, "hook", rx.url());
  create_subscription(p.c(), p.id, h.id, ">");
  const auto delivery_id = only_delivery(p, id_of(post_event(p, event)));
  ASSERT_TRUE(rx.wait_for(1, 10s));
  EXPECT_EQ(t.sql_int("SELECT count(*) FROM outbox WHERE delivery_id = $1 AND " + running_row, delivery_id), 1)
      << running_row;
  EXPECT_EQ(wait_delivery(p, delivery_id, {"succeeded"}).value("status", ""), "succeeded");
  EXPECT_EQ(t.sql_int(lease_rows, delivery_id), 0) << "the attempt writer deletes the row";
}

TEST_F(PipelineLease, AHandedOffDeliveryKeepsItsOutboxRowUntilItsAttemptIsRecorded) {
  // Published by the hand-off: not leased by a relay, due for it only after the 10 s grace.
  expect_row_until_attempt(daemon(), *this, "handoff-lease", {{"type", "a.b"}, {"data", 1}},
                           "lease_until IS NULL AND available_at > now() + interval '5 seconds'");
}

TEST_F(PipelineLease, ADeliveryTheRelayPublishesKeepsItsOutboxRowAsTheLeaseUntilItsAttemptIsRecorded) {
  // Scheduled, so the relay publishes it when it falls due: leased for the 30 s lease.
  expect_row_until_attempt(daemon(), *this, "lease", {{"type", "a.b"}, {"data", 1}, {"delay", "1s"}},
                           "lease_until IS NOT NULL AND available_at > now() + interval '20 seconds'");
}

TEST_F(PipelineLease, ALeaseThatRunsOutWithNoAttemptIsPublishedAgain) {
  auto p = make_project(daemon(), "lost");
  receiver rx;
  const hook h = make_webhook(p, "hook", rx.url());
  create_subscription(p.c(), p.id, h.id, ">");
  // Scheduled an hour ahead, so nothing was published yet; then made to look like a delivery
  // whose message JetStream lost: in flight, its lease row run out.
  const auto event_id = id_of(post_event(p, {{"type", "a.b"}, {"data", 1}, {"delay", "1h"}}));
  const auto delivery_id = only_delivery(p, event_id);
  const double before = metric(daemon(), "psig_sweeper_requeued_total");
  sql("UPDATE deliveries SET status = 'in_flight' WHERE id = $1", delivery_id);
  sql("UPDATE outbox SET available_at = now(), lease_until = now() WHERE delivery_id = $1", delivery_id);

  ASSERT_TRUE(rx.wait_for(1, 10s)) << "published again and delivered";
  EXPECT_EQ(rx.requests()[0].header("webhook-id").value_or(""), event_id);
  const json d = wait_delivery(p, delivery_id, {"succeeded"});
  EXPECT_EQ(d.value("status", ""), "succeeded");
  EXPECT_EQ(d.value("attempts", json::array()).size(), 1u);
  EXPECT_EQ(wait_sql(lease_rows, delivery_id, 0), 0);
  EXPECT_EQ(metric(daemon(), "psig_sweeper_requeued_total"), before + 1);
}

TEST_F(PipelineLease, ARowWhoseAttemptIsRecordedIsDroppedNotPublished) {
  auto p = make_project(daemon(), "stale");
  receiver rx;
  const hook h = make_webhook(p, "hook", rx.url());
  create_subscription(p.c(), p.id, h.id, ">");
  const auto event_id = id_of(post_event(p, {{"type", "a.b"}, {"data", 1}}));
  const auto delivery_id = only_delivery(p, event_id);
  ASSERT_EQ(wait_delivery(p, delivery_id, {"succeeded"}).value("status", ""), "succeeded");
  ASSERT_EQ(wait_sql(lease_rows, delivery_id, 0), 0);
  const double published = metric(daemon(), "psig_relay_published_total");
  // A lease row left over for the attempt already recorded (as a node killed between its
  // attempt and the relay's commit may leave one).
  sql("INSERT INTO outbox (delivery_id, attempt, available_at, lease_until) VALUES ($1, 1, now(), now())",
      delivery_id);
  EXPECT_EQ(wait_sql(lease_rows, delivery_id, 0), 0) << "the relay drops it";
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(metric(daemon(), "psig_relay_published_total"), published) << "and does not publish it";
  EXPECT_EQ(rx.requests().size(), 1u);
}

}  // namespace
}  // namespace psig::e2e::pipeline
