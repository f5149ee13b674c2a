// The hand-off (DESIGN §3): the node that commits an event publishes its deliveries right after
// the COMMIT, without waiting for a relay cycle; their outbox rows are due only after the grace,
// so the relay publishes one only when the hand-off was lost.
// - With the relay asleep (a 60 s poll, and nothing wakes it), a webhook is delivered and a
//   websocket consumer's delivery is recorded as published, and the relay published nothing.
// - A hand-off lost in a crash: the daemon's NATS server is frozen (SIGSTOP) so that the
//   publish cannot finish, the daemon is killed, and the database shows the delivery in flight
//   with its outbox row due after the grace; a second daemon's relay publishes it then.
#include <chrono>
#include <csignal>
#include <filesystem>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nats/nats.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bus/nats_names.hpp"
#include "e2e/e2e_helpers.hpp"
#include "e2e/pipeline_helpers.hpp"
#include "support/child_process.hpp"
#include "support/daemon.hpp"
#include "support/receiver.hpp"
#include "support/test_env.hpp"

extern char** environ;

namespace psig::e2e::pipeline {
namespace {

// A NATS server of this test's own (JetStream on, loopback, a private store), so that it can be
// frozen without touching the other tests' server. Killed when it goes out of scope.
class private_nats {
 public:
  private_nats() {
    port_ = test::free_port();
    dir_ = std::filesystem::temp_directory_path() / ("psig-handoff-nats-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    const std::string bin = test::find_on_path("nats-server");
    if (bin.empty()) throw std::runtime_error("nats-server is not on PATH");
    const std::string port = std::to_string(port_), store = dir_.string(), log = (dir_ / "nats.log").string();
    const char* argv[] = {bin.c_str(), "-js", "-a", "127.0.0.1", "-p", port.c_str(), "-sd", store.c_str(),
                          "-l", log.c_str(), nullptr};
    if (::posix_spawn(&pid_, bin.c_str(), nullptr, nullptr, const_cast<char**>(argv), environ) != 0) {
      throw std::runtime_error("cannot start nats-server");
    }
    const auto deadline = steady_clock::now() + 10s;
    while (!reachable() && steady_clock::now() < deadline) std::this_thread::sleep_for(50ms);
  }
  ~private_nats() {
    ::kill(pid_, SIGCONT);
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  void freeze() { ::kill(pid_, SIGSTOP); }
  void thaw() { ::kill(pid_, SIGCONT); }
  bool reachable() const {
    natsConnection* nc = nullptr;
    const bool ok = natsConnection_ConnectTo(&nc, url().c_str()) == NATS_OK;
    natsConnection_Destroy(nc);
    return ok;
  }

 private:
  std::uint16_t port_ = 0;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
};

TEST(PipelineHandoff, CommittedDeliveriesArePublishedWithoutARelayCycle) {
  test::daemon_process d(pipeline_daemon({{"PSIG_RELAY_POLL_MS", "60000"}}));
  auto p = make_project(d, "handoff");
  receiver rx;
  const hook h = make_webhook(p, "orders", rx.url("/hooks"));
  create_subscription(p.c(), p.id, h.id, "order.*");
  const json app = create_consumer(p.c(), p.id, {{"name", "app"}, {"kind", "websocket"}});
  create_subscription(p.c(), p.id, id_of(app), "order.*");
  // The relay's first cycle runs at start; after it, it sleeps for the whole test.
  std::this_thread::sleep_for(300ms);

  const json accepted = post_event(p, {{"type", "order.created"}, {"data", {{"n", 1}}}});
  const std::string event_id = accepted.at("id").get<std::string>();
  ASSERT_EQ(accepted.at("deliveries").get<int>(), 2) << accepted;
  ASSERT_TRUE(rx.wait_for(1, 10s)) << "the webhook never came: was it left to the relay?";
  const json all = wait_event_deliveries(p, event_id, {"succeeded"}, 10s);
  ASSERT_EQ(all.size(), 2u) << all;
  for (const auto& dl : all) EXPECT_EQ(dl.at("status"), "succeeded") << dl;

  EXPECT_EQ(metric(d, "psig_relay_published_total"), 0) << "the relay published: no hand-off";
  EXPECT_EQ(metric(d, "psig_handoff_published_total"), 2);
  pqxx::connection c(d.database_url());
  pqxx::nontransaction w(c);
  EXPECT_EQ(w.exec1("SELECT count(*) FROM outbox")[0].as<int>(), 0)
      << "a settled hand-off leaves no outbox row (the webhook's lease went with its attempt)";
}

TEST(PipelineHandoff, LostHandOffIsPublishedByTheRelayAfterTheGrace) {
  private_nats nats;
  ASSERT_TRUE(nats.reachable());
  auto opts = pipeline_daemon({{"PSIG_NATS_URL", nats.url()}, {"PSIG_NATS_NAMESPACE", "handoff"},
                               {"PSIG_HANDOFF_GRACE_SECONDS", "3"}});
  test::daemon_process first(opts);
  auto p = make_project(first, "lost-handoff");
  receiver rx;
  const hook h = make_webhook(p, "orders", rx.url("/hooks"));
  create_subscription(p.c(), p.id, h.id, "order.*");

  nats.freeze();
  const auto posted = steady_clock::now();
  const json accepted = post_event(p, {{"type", "order.created"}, {"data", {{"n", 1}}}});
  const std::string dlv = only_delivery(p, accepted.at("id").get<std::string>());
  std::this_thread::sleep_for(300ms);  // the hand-off now waits for a frozen server
  ASSERT_EQ(::kill(first.pid(), SIGKILL), 0);
  first.wait_exit(10s);
  {
    pqxx::connection c(first.database_url());
    pqxx::nontransaction w(c);
    const auto d = w.exec_params1("SELECT status, attempts FROM deliveries WHERE id = $1", dlv);
    EXPECT_EQ(d[0].as<std::string>(), "in_flight");
    EXPECT_EQ(d[1].as<int>(), 0);
    const auto o = w.exec_params1(
        "SELECT lease_until IS NULL, available_at > now(), available_at < now() + interval '4 s'"
        " FROM outbox WHERE delivery_id = $1", dlv);
    EXPECT_TRUE(o[0].as<bool>()) << "a handed-off row is not leased";
    EXPECT_TRUE(o[1].as<bool>()) << "a handed-off row must not be due before the grace";
    EXPECT_TRUE(o[2].as<bool>()) << "a handed-off row must be due after the grace (3 s)";
  }
  EXPECT_EQ(rx.count(), 0u);
  nats.thaw();
  // The frozen server may still read the publish from its socket and store it: the stream goes,
  // so that only the relay's publish can deliver (the second daemon creates the stream again).
  const auto deadline = steady_clock::now() + 10s;
  while (!nats.reachable() && steady_clock::now() < deadline) std::this_thread::sleep_for(50ms);
  delete_stream(nats.url(), bus::nats_names("handoff").deliveries_stream);

  auto second_opts = opts;
  second_opts.env["PSIG_DATABASE_URL"] = first.database_url();
  test::daemon_process second(second_opts);
  ASSERT_TRUE(rx.wait_for(1, 15s)) << "the lost hand-off was never published again";
  EXPECT_GE(steady_clock::now() - posted, 2500ms) << "published before the grace ran out";
  p.api = std::make_unique<http_client>(second.port());
  p.api->set_token(p.key);
  const json d = wait_delivery(p, dlv, {"succeeded"}, 10s);
  EXPECT_TRUE(status_in(d, {"succeeded"})) << d;
  ASSERT_TRUE(d.contains("attempts") && d["attempts"].is_array()) << d;
  EXPECT_EQ(d["attempts"].size(), 1u) << d;
  EXPECT_GE(metric(second, "psig_relay_published_total"), 1) << "delivered, but not by the relay";
}

}  // namespace
}  // namespace psig::e2e::pipeline
