#pragma once
#include <string>

namespace psig::storage {

// Applies the embedded migrations that schema_migrations does not list yet, each in its own
// transaction, under a PostgreSQL advisory lock so concurrent starts of several nodes apply each
// migration once. Blocking; returns how many were applied. Throws with context on failure.
int migrate(const std::string& database_url);

}  // namespace psig::storage
