// Retention (DESIGN §4): events older than their project's retention_days are deleted, with
// their deliveries and attempts; younger ones and other projects' stay. A deleted project
// leaves none of them behind.
#include <string>
#include <thread>

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

TEST(PipelineRetention, EventsPastRetentionAreDeleted) {
  test::daemon_process d(pipeline_daemon({{"PSIG_RETENTION_SWEEP_SECONDS", "1"}}));
  auto p = make_project(d, "short-memory");
  expect_status(p.c().patch(p.base, {{"retention_days", 1}}), 403, "keys cannot patch projects");
  http_client admin(d.port());
  admin.set_token(d.admin_token());
  expect_status(admin.patch(p.base, {{"retention_days", 1}}), 200, "retention 1 day");
  receiver rx;
  const hook h = make_webhook(p, "hook", rx.url());
  create_subscription(p.c(), p.id, h.id, ">");

  const std::string old_id = post_event(p, {{"type", "a.b"}, {"data", 1}})["id"].get<std::string>();
  const std::string new_id = post_event(p, {{"type", "a.b"}, {"data", 2}})["id"].get<std::string>();
  ASSERT_TRUE(rx.wait_for(2, 10s));
  {
    // Two days ago, for one of them.
    pqxx::connection c(d.database_url());
    pqxx::work w(c);
    w.exec_params("UPDATE events SET created_at = now() - interval '2 days' WHERE id = $1", old_id);
    w.commit();
  }
  const auto deadline = steady_clock::now() + 10s;
  int status = 200;
  while (steady_clock::now() < deadline && (status = p.c().get(p.base + "/events/" + old_id).status) == 200) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(status, 404) << "the old event is deleted";
  EXPECT_EQ(p.c().get(p.base + "/events/" + new_id).status, 200) << "the young one stays";
  pqxx::connection c(d.database_url());
  pqxx::read_transaction r(c);
  EXPECT_EQ(r.exec_params1("SELECT count(*) FROM deliveries WHERE event_id = $1", old_id)[0].as<int>(), 0);
  EXPECT_EQ(r.exec_params1("SELECT count(*) FROM delivery_attempts a JOIN deliveries d ON"
                           " d.id = a.delivery_id WHERE d.event_id = $1",
                           new_id)[0]
                .as<int>(),
            1);
}

TEST(PipelineRetention, DeletedProjectLeavesNoDeliveriesAttemptsOrOutboxRows) {
  test::daemon_process d(pipeline_daemon());
  auto gone = make_project(d, "gone");
  auto kept = make_project(d, "kept");
  receiver rx;
  for (auto* p : {&gone, &kept}) {
    const hook h = make_webhook(*p, "hook", rx.url());
    create_subscription(p->c(), p->id, h.id, ">");
    for (int i = 0; i < 3; ++i) post_event(*p, {{"type", "a.b"}, {"data", i}});
  }
  ASSERT_TRUE(rx.wait_for(6, 10s));
  // One more for `gone`, due later: it is still in the outbox when the project goes.
  const json later = post_event(gone, {{"type", "a.b"}, {"data", 9}, {"delay", "1h"}});
  pqxx::connection c(d.database_url());
  auto count = [&](const std::string& sql, const std::string& arg) {
    pqxx::read_transaction r(c);
    return r.exec_params1(sql, arg)[0].as<int>();
  };
  const std::string in_outbox = "SELECT count(*) FROM outbox o JOIN deliveries d ON d.id = o.delivery_id"
                                " WHERE d.event_id = $1";
  ASSERT_EQ(count(in_outbox, later["id"].get<std::string>()), 1);
  // The six delivered keep their lease rows until their attempts are committed.
  const auto deadline = steady_clock::now() + 10s;
  while (count("SELECT count(*) FROM outbox WHERE $1 <> ''", "all") != 1 && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(25ms);
  }
  ASSERT_EQ(count("SELECT count(*) FROM outbox WHERE $1 <> ''", "all"), 1) << "only the scheduled one";

  http_client admin(d.port());
  admin.set_token(d.admin_token());
  expect_status(admin.del(gone.base), 204, "delete the project");
  for (const auto* p : {&gone, &kept}) {
    const int want = p == &gone ? 0 : 3;
    EXPECT_EQ(count("SELECT count(*) FROM events WHERE project_id = $1", p->id), want) << p->id;
    EXPECT_EQ(count("SELECT count(*) FROM deliveries WHERE project_id = $1", p->id), want) << p->id;
    EXPECT_EQ(count("SELECT count(*) FROM delivery_attempts WHERE project_id = $1", p->id), want) << p->id;
  }
  EXPECT_EQ(count("SELECT count(*) FROM outbox WHERE $1 <> ''", "all"), 0)
      << "the scheduled delivery's outbox row went with it";
}

}  // namespace
}  // namespace psig::e2e::pipeline
