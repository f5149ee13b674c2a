// Nothing acknowledged is ever lost (DESIGN §3): 5,000 events are accepted, the daemon is
// killed with SIGKILL while their deliveries are in flight, a second daemon on the same database
// takes over, and every accepted event reaches the receiver at least once (duplicates allowed,
// counted). Another tenant sees none of it.
#include <algorithm>
#include <atomic>
#include <csignal>
#include <iostream>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>

#include "e2e/e2e_helpers.hpp"
#include "e2e/pipeline_helpers.hpp"
#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/receiver.hpp"

namespace psig::e2e::pipeline {
namespace {

constexpr int total_events = 5000;
constexpr int per_batch = 500;
constexpr int posting_threads = 5;

// What the receiver saw, by webhook-id, counted on the receiver's thread.
struct tally {
  std::mutex mutex;
  std::unordered_map<std::string, int> seen;
  std::size_t requests = 0;

  std::size_t distinct() {
    std::lock_guard lock(mutex);
    return seen.size();
  }
  std::size_t missing_of(const std::set<std::string>& ids, std::vector<std::string>& sample) {
    std::lock_guard lock(mutex);
    std::size_t missing = 0;
    for (const auto& id : ids) {
      if (seen.count(id) != 0) continue;
      if (sample.size() < 5) sample.push_back(id);
      ++missing;
    }
    return missing;
  }
};

std::string tail(const std::string& text, std::size_t n = 4000) {
  return text.size() <= n ? text : text.substr(text.size() - n);
}

TEST(PipelineCrash, NothingAcknowledgedIsLostWhenTheDaemonIsKilled) {
  const auto opts = pipeline_daemon(
      {{"PSIG_JETSTREAM_ACK_WAIT_SECONDS", "20"}, {"PSIG_DELIVERY_LEASE_SECONDS", "10"}});
  // Owns (and at the end drops) the database both daemons use: it lives until the test ends.
  test::daemon_process first(opts);

  auto counts = std::make_shared<tally>();
  auto slow = std::make_shared<std::atomic<bool>>(true);
  receiver rx;
  rx.respond_with([counts, slow](const received_request& r) {
    {
      std::lock_guard lock(counts->mutex);
      ++counts->seen[r.header("webhook-id").value_or("")];
      ++counts->requests;
    }
    scripted_response s;
    // Before the crash the receiver is slow, so that attempts are still open when it happens.
    if (slow->load()) s.delay = 1500ms;
    return s;
  });

  auto a = make_project(first, "crash victim");
  auto b = make_project(first, "bystander");
  const hook h = make_webhook(a, "sink", rx.url(), {{"settings", {{"max_in_flight", 200}}}});
  create_subscription(a.c(), a.id, h.id, "load.>");

  // 5,000 events in batches of 500 from several connections; only 202s count as acknowledged.
  std::vector<std::vector<std::string>> acked(posting_threads);
  std::vector<std::string> problems(posting_threads);
  {
    std::vector<std::thread> pool;
    for (int t = 0; t < posting_threads; ++t) {
      pool.emplace_back([&, t] {
        const auto slot = static_cast<std::size_t>(t);
        try {
          http_client c(first.port());
          c.set_token(a.key);
          for (int batch = t; batch < total_events / per_batch; batch += posting_threads) {
            json events = json::array();
            for (int i = 0; i < per_batch; ++i) {
              events.push_back({{"type", "load.item"}, {"data", {{"n", batch * per_batch + i}}}});
            }
            const auto r = c.post(a.base + "/events/batch", {{"events", events}});
            if (r.status != 202) {
              problems[slot] = "batch " + std::to_string(batch) + ": " + std::to_string(r.status) +
                               " " + r.body.substr(0, 300);
              return;
            }
            const auto body = json::parse(r.body, nullptr, false);
            if (!body.is_object() || !body.contains("data") || !body["data"].is_array()) {
              problems[slot] = "batch " + std::to_string(batch) + ": not a batch answer";
              return;
            }
            for (const auto& item : body["data"]) {
              if (!item.is_object() || !item.contains("id") || item.value("deliveries", 0) != 1) {
                problems[slot] = "batch " + std::to_string(batch) + ": " + item.dump();
                return;
              }
              acked[slot].push_back(item["id"].get<std::string>());
            }
          }
        } catch (const std::exception& e) {
          problems[slot] = e.what();
        }
      });
    }
    for (auto& th : pool) th.join();
  }
  for (const auto& problem : problems) ASSERT_TRUE(problem.empty()) << problem;
  std::set<std::string> ids;
  for (const auto& list : acked) ids.insert(list.begin(), list.end());
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(total_events)) << "acknowledged ids are not distinct";

  // All acknowledged: crash now, mid-delivery.
  const std::size_t received_at_kill = counts->distinct();
  ASSERT_EQ(::kill(first.pid(), SIGKILL), 0);
  EXPECT_EQ(first.wait_exit(std::chrono::seconds(10)), -1) << "killed by a signal";
  EXPECT_FALSE(first.running());
  EXPECT_LT(received_at_kill, static_cast<std::size_t>(total_events))
      << "every delivery finished before the crash: the test proves less than it should";
  std::cout << "[ crash    ] " << received_at_kill << " of " << total_events
            << " events had reached the receiver when the daemon was killed\n";
  RecordProperty("received_at_kill", static_cast<int>(received_at_kill));
  slow->store(false);

  auto second_opts = opts;
  second_opts.env["PSIG_DATABASE_URL"] = first.database_url();
  const auto restarted = steady_clock::now();
  test::daemon_process second(second_opts);

  std::size_t missing = 0;
  std::vector<std::string> sample;
  const auto deadline = restarted + 60s;
  for (;;) {
    sample.clear();
    missing = counts->missing_of(ids, sample);
    if (missing == 0 || steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(200ms);
  }
  const auto took = std::chrono::duration_cast<milliseconds>(steady_clock::now() - restarted).count();
  if (missing != 0) {
    std::ostringstream s;
    for (const auto& id : sample) s << id << " ";
    ADD_FAILURE() << missing << " acknowledged events never reached the receiver within 60 s of "
                  << "the restart (e.g. " << s.str() << ")\nsecond daemon's output:\n"
                  << tail(second.output());
  }

  std::size_t requests = 0;
  std::size_t strangers = 0;
  {
    std::lock_guard lock(counts->mutex);
    requests = counts->requests;
    for (const auto& [id, n] : counts->seen) strangers += ids.count(id) == 0 ? 1 : 0;
  }
  const std::size_t duplicates = requests - std::min(requests, counts->distinct());
  std::cout << "[ crash    ] all " << total_events << " events delivered " << took
            << " ms after the restart; " << requests << " requests, " << duplicates
            << " duplicates\n";
  RecordProperty("duplicates", static_cast<int>(duplicates));
  RecordProperty("recovery_ms", static_cast<int>(took));
  EXPECT_EQ(strangers, 0u) << "the receiver got webhook-ids that were never acknowledged";

  // Cross-tenant: the bystander's key sees nothing of the victim's events and deliveries.
  http_client own(second.port());
  own.set_token(a.key);
  const std::string some_event = *ids.begin();
  json event = expect_status(own.get(a.base + "/events/" + some_event), 200, "GET own event");
  ASSERT_FALSE(event["deliveries"].empty()) << event;
  const std::string some_delivery = event["deliveries"][0]["id"].get<std::string>();

  http_client other(second.port());
  other.set_token(b.key);
  json their_events = expect_status(other.get(b.base + "/events"), 200, "bystander's events");
  EXPECT_TRUE(their_events["data"].empty()) << their_events.dump().substr(0, 300);
  json their_deliveries = expect_status(other.get(b.base + "/deliveries"), 200, "bystander's deliveries");
  EXPECT_TRUE(their_deliveries["data"].empty()) << their_deliveries.dump().substr(0, 300);
  for (const auto& path : {a.base + "/events/" + some_event, b.base + "/events/" + some_event,
                           a.base + "/events", a.base + "/deliveries",
                           a.base + "/deliveries/" + some_delivery,
                           b.base + "/deliveries/" + some_delivery}) {
    SCOPED_TRACE(path);
    expect_error(other.get(path), 404, "not_found");
  }
  expect_error(other.post(b.base + "/deliveries/" + some_delivery + "/retry"), 404, "not_found");
  expect_error(other.post(a.base + "/deliveries/bulk-retry", json::object()), 404, "not_found");
}

}  // namespace
}  // namespace psig::e2e::pipeline
