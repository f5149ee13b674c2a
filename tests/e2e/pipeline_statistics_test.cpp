// The relay's statistics check (storage/table_stats.hpp) runs in the daemon: a fresh database's
// `events` table, never analyzed, that grows past 1,000 rows is analyzed by the daemon within
// seconds — not at the next auto-analyze — so that no plan is made on statistics of 0 rows.
#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "e2e/e2e_helpers.hpp"
#include "e2e/pipeline_helpers.hpp"
#include "support/daemon.hpp"

namespace psig::e2e::pipeline {
namespace {

TEST(PipelineStatistics, TheDaemonAnalyzesAQueueTableThatOutgrewItsStatistics) {
  auto opts = pipeline_daemon({{"PSIG_LOG_LEVEL", "info"}});
  test::daemon_process d(opts);
  auto p = make_project(d, "statistics");
  {
    pqxx::connection c(d.database_url());
    pqxx::nontransaction w(c);
    // Nobody else analyzes it meanwhile: the log line below is the daemon's, and so is the count.
    w.exec("ALTER TABLE events SET (autovacuum_enabled = false)");
  }
  for (int batch = 0; batch < 3; ++batch) {
    json events = json::array();
    for (int i = 0; i < 500; ++i) events.push_back({{"type", "stat.row"}, {"data", {{"i", i}}}});
    expect_status(p.c().post(p.base + "/events/batch", {{"events", events}}), 202, "POST batch");
  }
  const auto deadline = steady_clock::now() + 20s;
  while (d.output().find("relay: analyzed events") == std::string::npos && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_NE(d.output().find("relay: analyzed events"), std::string::npos) << d.output();
  pqxx::connection c(d.database_url());
  pqxx::nontransaction w(c);
  EXPECT_GE(w.exec1("SELECT reltuples FROM pg_class WHERE relname = 'events'")[0].as<double>(), 1000);
}

}  // namespace
}  // namespace psig::e2e::pipeline
