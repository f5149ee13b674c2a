#include "psig/storage/migrator.hpp"

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include "storage/migrations.hpp"

namespace psig::storage {
namespace {
// Any constant works; it only has to be the same on every node ("psig" in ASCII).
constexpr long long migration_lock_key = 0x70736967;
}  // namespace

int migrate(const std::string& database_url) {
  pqxx::connection conn(database_url);
  {
    pqxx::nontransaction nt(conn);
    nt.exec("SET client_min_messages = warning");
    nt.exec_params("SELECT pg_advisory_lock($1)", migration_lock_key);
  }
  int applied = 0;
  try {
    {
      pqxx::work w(conn);
      w.exec(
          "CREATE TABLE IF NOT EXISTS schema_migrations ("
          " version integer PRIMARY KEY, name text NOT NULL,"
          " applied_at timestamptz NOT NULL DEFAULT now())");
      w.commit();
    }
    for (const auto& m : embedded_migrations()) {
      pqxx::work w(conn);
      const auto done = w.exec_params("SELECT 1 FROM schema_migrations WHERE version = $1",
                                      m.version);
      if (!done.empty()) continue;
      try {
        w.exec(m.sql);
      } catch (const std::exception& e) {
        throw std::runtime_error("migration " + std::string(m.name) + " failed: " + e.what());
      }
      w.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version,
                    std::string(m.name));
      w.commit();
      spdlog::info("applied migration {}", m.name);
      ++applied;
    }
  } catch (...) {
    pqxx::nontransaction nt(conn);
    nt.exec_params("SELECT pg_advisory_unlock($1)", migration_lock_key);
    throw;
  }
  pqxx::nontransaction nt(conn);
  nt.exec_params("SELECT pg_advisory_unlock($1)", migration_lock_key);
  return applied;
}

}  // namespace psig::storage
