// Migrations against a real PostgreSQL: applied once, idempotent, concurrent-safe.
#include <future>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "psig/storage/migrator.hpp"
#include "storage/migrations.hpp"
#include "support/test_env.hpp"

namespace psig::test {
namespace {

class migrations_test : public ::testing::Test {
 protected:
  void SetUp() override { url_ = create_database(); }
  void TearDown() override { drop_database(url_); }
  std::string url_;
};

TEST_F(migrations_test, applies_everything_once_then_nothing) {
  const int total = static_cast<int>(storage::embedded_migrations().size());
  ASSERT_GT(total, 0);
  EXPECT_EQ(storage::migrate(url_), total);
  EXPECT_EQ(storage::migrate(url_), 0);

  pqxx::connection c(url_);
  pqxx::read_transaction w(c);
  EXPECT_EQ(w.exec1("SELECT count(*) FROM schema_migrations")[0].as<int>(), total);
  for (const char* table : {"accounts", "sessions", "projects", "api_keys", "consumers",
                            "subscriptions", "events", "deliveries", "delivery_attempts", "outbox"}) {
    EXPECT_EQ(w.exec_params1("SELECT count(*) FROM information_schema.tables WHERE table_name = $1",
                             std::string(table))[0]
                  .as<int>(),
              1)
        << table;
  }
}

// 0004 moves the in-flight lease onto the outbox: a delivery in flight at upgrade time (its row
// deleted by the former relay) gets a lease row running out when its old lease does.
TEST_F(migrations_test, upgrade_to_0004_gives_in_flight_deliveries_their_lease_row) {
  {
    pqxx::connection c(url_);
    pqxx::work w(c);
    w.exec("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
           " applied_at timestamptz NOT NULL DEFAULT now())");
    for (const auto& m : storage::embedded_migrations()) {
      if (m.version >= 4) break;
      w.exec(m.sql);
      w.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version,
                    std::string(m.name));
    }
    w.exec("INSERT INTO projects (id, name, realtime_secret) VALUES ('prj_1', 'p', 's')");
    w.exec("INSERT INTO consumers (id, project_id, name, kind, url, secret) VALUES"
           " ('con_1', 'prj_1', 'c', 'webhook', 'http://127.0.0.1:1/', 's')");
    w.exec("INSERT INTO events (id, project_id, type, envelope) VALUES ('evt_1', 'prj_1', 'a', '{}')");
    w.exec("INSERT INTO deliveries (id, project_id, event_id, consumer_id, status, attempts, lease_until)"
           " VALUES ('dlv_flying', 'prj_1', 'evt_1', 'con_1', 'in_flight', 1,"
           " '2030-01-01T00:00:00Z'), ('dlv_done', 'prj_1', 'evt_1', 'con_1', 'succeeded', 1, NULL)");
    w.commit();
  }
  EXPECT_EQ(storage::migrate(url_), static_cast<int>(storage::embedded_migrations().size()) - 3);
  pqxx::connection c(url_);
  pqxx::read_transaction r(c);
  const auto rows = r.exec("SELECT delivery_id, attempt, available_at = '2030-01-01T00:00:00Z',"
                           " lease_until IS NOT NULL FROM outbox");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0].as<std::string>(), "dlv_flying");
  EXPECT_EQ(rows[0][1].as<int>(), 2) << "the attempt that was in flight";
  EXPECT_TRUE(rows[0][2].as<bool>()) << "due when the old lease runs out";
  EXPECT_TRUE(rows[0][3].as<bool>()) << "marked as published";
  EXPECT_EQ(r.exec1("SELECT count(*) FROM information_schema.columns WHERE table_name = 'deliveries'"
                    " AND column_name = 'lease_until'")[0].as<int>(), 0);
}

TEST_F(migrations_test, concurrent_runs_apply_each_migration_once) {
  // Several nodes starting together: the advisory lock serialises them.
  std::vector<std::future<int>> runs;
  for (int i = 0; i < 4; ++i) {
    runs.push_back(std::async(std::launch::async, [this] { return storage::migrate(url_); }));
  }
  int applied = 0;
  for (auto& r : runs) applied += r.get();
  EXPECT_EQ(applied, static_cast<int>(storage::embedded_migrations().size()));
}

TEST_F(migrations_test, unreachable_database_throws_with_context) {
  const auto port = free_port();
  EXPECT_THROW(storage::migrate("postgresql://psig@127.0.0.1:" + std::to_string(port) + "/x"),
               std::exception);
}

}  // namespace
}  // namespace psig::test
