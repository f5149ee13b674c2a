// storage::analyze_stale against a real PostgreSQL: a table VACUUM saw empty and that refilled
// has statistics of 0 rows until it is analyzed; one that is small or already analyzed is left.
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "storage/table_stats.hpp"
#include "support/test_env.hpp"

namespace psig::test {
namespace {

double reltuples(pqxx::connection& c, const std::string& table) {
  pqxx::nontransaction w(c);
  return w.exec_params1("SELECT reltuples FROM pg_class WHERE relname = $1", table)[0].as<double>();
}

// The statistics system counts a backend's inserts when it flushes them (at the latest when the
// backend exits); waits until it shows `rows` live rows of `table`.
bool wait_live_rows(pqxx::connection& c, const std::string& table, long rows) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    pqxx::nontransaction w(c);
    const auto r = w.exec_params("SELECT n_live_tup FROM pg_stat_user_tables WHERE relname = $1", table);
    if (!r.empty() && r[0][0].as<long>() >= rows) return true;
    w.exec("SELECT pg_stat_clear_snapshot()");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

TEST(table_stats_test, analyzes_only_tables_that_outgrew_their_statistics) {
  const std::string url = create_database();
  {
    pqxx::connection setup(url);
    pqxx::nontransaction w(setup);
    w.exec("CREATE TABLE queue (id bigint PRIMARY KEY, pad text)");
    w.exec("CREATE TABLE small (id bigint PRIMARY KEY)");
    // Only this test analyzes them.
    w.exec("ALTER TABLE queue SET (autovacuum_enabled = false)");
    w.exec("ALTER TABLE small SET (autovacuum_enabled = false)");
    // A queue that was drained: VACUUM records 0 live rows over the pages it keeps.
    w.exec("INSERT INTO queue SELECT g, repeat('x', 100) FROM generate_series(1, 3000) g");
    w.exec("DELETE FROM queue");
    w.exec("VACUUM (ANALYZE) queue");
    // It refills; `small` stays below the threshold.
    w.exec("INSERT INTO queue SELECT g, repeat('x', 100) FROM generate_series(1, 5000) g");
    w.exec("INSERT INTO small SELECT g FROM generate_series(1, 100) g");
  }  // the backend exits: its counts reach the statistics system
  pqxx::connection c(url);
  ASSERT_TRUE(wait_live_rows(c, "queue", 5000));
  ASSERT_TRUE(wait_live_rows(c, "small", 100));
  EXPECT_EQ(reltuples(c, "queue"), 0) << "VACUUM left statistics of some rows: the test proves nothing";

  const auto analyzed = storage::analyze_stale(c, {"queue", "small", "absent"});
  EXPECT_EQ(analyzed, std::vector<std::string>{"queue"});
  EXPECT_NEAR(reltuples(c, "queue"), 5000, 500);

  // Statistics that match the table: nothing to do.
  EXPECT_TRUE(storage::analyze_stale(c, {"queue", "small"}).empty());
  drop_database(url);
}

}  // namespace
}  // namespace psig::test
