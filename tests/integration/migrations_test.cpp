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
