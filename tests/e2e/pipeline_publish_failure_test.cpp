// A publish JetStream refuses leaves its outbox row due and its delivery waiting (DESIGN §3):
// the deliveries stream is deleted under a running daemon, an event is accepted, and its every
// publish fails. With the daemon stopped, the database shows the delivery pending (not left in
// flight) and its outbox row due now (not leased for the delivery lease, 300 s); a second daemon,
// which creates the stream again, delivers it at once.
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "bus/nats_names.hpp"
#include "e2e/e2e_helpers.hpp"
#include "e2e/pipeline_helpers.hpp"
#include "support/daemon.hpp"
#include "support/receiver.hpp"
#include "support/test_env.hpp"

namespace psig::e2e::pipeline {
namespace {

double publish_errors(const test::daemon_process& d) {
  http_client admin(d.port());
  admin.set_token(d.admin_token());
  const auto r = admin.get("/metrics");
  const std::string name = "psig_jetstream_publish_errors_total ";
  const auto at = r.body.find("\n" + name);
  return at == std::string::npos ? 0 : std::stod(r.body.substr(at + 1 + name.size()));
}

TEST(PipelinePublishFailure, RefusedPublishLeavesTheDeliveryDueAndItIsDeliveredLater) {
  auto opts = pipeline_daemon({{"PSIG_DELIVERY_LEASE_SECONDS", "300"}});
  const std::string ns = "pf" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000000);
  opts.env["PSIG_NATS_NAMESPACE"] = ns;
  // Owns (and at the end drops) the database both daemons use.
  test::daemon_process first(opts);
  auto p = make_project(first, "publish-failure");
  receiver rx;
  const hook h = make_webhook(p, "orders", rx.url("/hooks"));
  create_subscription(p.c(), p.id, h.id, "order.*");

  delete_stream(test::nats_url(), bus::nats_names(ns).deliveries_stream);
  const json accepted = post_event(p, {{"type", "order.created"}, {"data", {{"n", 1}}}});
  const std::string event_id = accepted.at("id").get<std::string>();
  const std::string dlv = only_delivery(p, event_id);

  const auto deadline = steady_clock::now() + 15s;
  while (publish_errors(first) < 1 && steady_clock::now() < deadline) std::this_thread::sleep_for(50ms);
  ASSERT_GE(publish_errors(first), 1) << "the relay never reported a refused publish";
  ASSERT_EQ(first.stop(std::chrono::seconds(15)), 0) << first.output();
  EXPECT_EQ(rx.count(), 0u) << "delivered without a stream";

  {
    pqxx::connection c(first.database_url());
    pqxx::nontransaction w(c);
    const auto d = w.exec_params1("SELECT status, attempts FROM deliveries WHERE id = $1", dlv);
    EXPECT_EQ(d[0].as<std::string>(), "pending");
    EXPECT_EQ(d[1].as<int>(), 0);
    const auto o = w.exec_params(
        "SELECT lease_until IS NULL, available_at <= now() FROM outbox WHERE delivery_id = $1", dlv);
    ASSERT_EQ(o.size(), 1u) << "the outbox row is gone: the event would never be delivered";
    EXPECT_TRUE(o[0][0].as<bool>()) << "the row is still leased";
    EXPECT_TRUE(o[0][1].as<bool>()) << "the row is not due";
  }

  auto second_opts = opts;
  second_opts.env["PSIG_DATABASE_URL"] = first.database_url();
  test::daemon_process second(second_opts);
  ASSERT_TRUE(rx.wait_for(1, 15s)) << "not delivered after the stream came back";
  const std::string id = dlv;
  http_client api(second.port());
  api.set_token(p.key);
  const json d = poll(
      api, p.base + "/deliveries/" + id, [](const json& d) { return status_in(d, {"succeeded"}); }, 15s);
  EXPECT_TRUE(status_in(d, {"succeeded"})) << d;
  ASSERT_TRUE(d.contains("attempts") && d["attempts"].is_array()) << d;
  EXPECT_EQ(d["attempts"].size(), 1u) << d;
}

}  // namespace
}  // namespace psig::e2e::pipeline
