// A smoke pass of psig-bench (bench/, docs/benchmarks.md): every mode against a real daemon
// with tiny numbers, so that the benchmark tool keeps working. No timing is asserted here; the
// figures come from scripts/bench.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/pipeline_helpers.hpp"
#include "support/child_process.hpp"

#ifndef PSIG_BENCH_PATH
#error "PSIG_BENCH_PATH must name the psig-bench binary (tests/CMakeLists.txt)"
#endif

namespace psig::e2e::pipeline {
namespace {

class BenchSmoke : public pipeline_suite<BenchSmoke> {
 protected:
  // Runs psig-bench with `args`; returns its RESULT object (asserting it exited 0 with one).
  json bench(std::vector<std::string> args) {
    args.insert(args.begin(), PSIG_BENCH_PATH);
    const auto r = test::run_child(args, {}, std::chrono::seconds(120));
    const auto at = r.output.find("RESULT ");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    if (at == std::string::npos) {
      ADD_FAILURE() << "no RESULT line:\n" << r.output;
      return json::object();
    }
    const auto end = r.output.find('\n', at);
    return json::parse(r.output.substr(at + 7, end - at - 7), nullptr, false);
  }
  std::vector<std::string> api() {
    return {"--api", "http://127.0.0.1:" + std::to_string(daemon().port()), "--admin-token",
            daemon().admin_token()};
  }
  std::vector<std::string> with_api(std::vector<std::string> head, const std::vector<std::string>& tail) {
    for (const auto& a : api()) head.push_back(a);
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
  }
};

TEST_F(BenchSmoke, IngestCountsAcceptedEvents) {
  const json r = bench(with_api({"ingest"}, {"--connections", "4", "--duration-ms", "500"}));
  EXPECT_EQ(r["ok"], true) << r;
  EXPECT_GT(r["ok_requests"].get<int>(), 0) << r;
  EXPECT_EQ(r["errors"], 0) << r;
  EXPECT_GT(r["p50_ms"].get<double>(), 0) << r;
}

TEST_F(BenchSmoke, EndToEndReceivesEveryEvent) {
  const json r = bench(with_api({"e2e"}, {"--rate", "40", "--duration-ms", "500"}));
  EXPECT_EQ(r["ok"], true) << r;
  EXPECT_EQ(r["received"], r["sent"]) << r;
  EXPECT_EQ(r["missing"], 0) << r;
}

TEST_F(BenchSmoke, DeliverDrainsABacklogWithItsAttemptsLogged) {
  const json r = bench(with_api({"deliver"}, {"--events", "50", "--lead-ms", "1500"}));
  EXPECT_EQ(r["ok"], true) << r;
  EXPECT_EQ(r["attempts_logged"], 50) << r;
}

TEST_F(BenchSmoke, WebSocketFanOutLosesNothing) {
  const json r = bench(with_api({"ws"}, {"--clients", "5", "--rate", "20", "--duration-ms", "500"}));
  EXPECT_EQ(r["ok"], true) << r;
  EXPECT_EQ(r["received"], r["expected"]) << r;
  EXPECT_GT(r["expected"].get<int>(), 0) << r;
}

// The publisher waits for the slowest client within the window, and goes on once it has caught
// up: with a window of one event it still publishes (a gate that never reopened would stop at 1).
TEST_F(BenchSmoke, WebSocketPublisherKeepsWithinItsWindow) {
  const json r = bench(with_api({"ws"}, {"--clients", "5", "--rate", "200", "--duration-ms", "1000",
                                          "--window", "1"}));
  EXPECT_EQ(r["ok"], true) << r;
  EXPECT_EQ(r["window"], 1) << r;
  EXPECT_GE(r["published"].get<int>(), 5) << r;
  EXPECT_EQ(r["received"], r["expected"]) << r;
}

TEST_F(BenchSmoke, IdleConnectionsAreMeasured) {
  const json r = bench(with_api({"ws-idle"}, {"--clients", "20", "--settle-ms", "200", "--pid",
                                               std::to_string(daemon().pid())}));
  EXPECT_EQ(r["ok"], true) << r;
  EXPECT_EQ(r["clients"], 20) << r;
}

TEST_F(BenchSmoke, HttpCeilingAgainstTheSink) {
  const json r = bench({"http", "--url", "self", "--connections", "2", "--duration-ms", "300"});
  EXPECT_EQ(r["ok"], true) << r;
  EXPECT_EQ(r["errors"], 0) << r;
}

}  // namespace
}  // namespace psig::e2e::pipeline
