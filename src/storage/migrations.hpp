#pragma once
#include <string>
#include <vector>

namespace psig::storage {

struct migration {
  int version;
  const char* name;
  const char* sql;
};

// migrations/NNNN_name.sql, compiled in (see cmake/EmbedMigrations.cmake), in version order.
const std::vector<migration>& embedded_migrations();

}  // namespace psig::storage
