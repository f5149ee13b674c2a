#include "storage/table_stats.hpp"

#include "storage/pg_util.hpp"

namespace psig::storage {

std::vector<std::string> analyze_stale(pqxx::connection& c, const std::vector<std::string>& tables,
                                       double min_rows, double factor) {
  pqxx::nontransaction w(c);
  // reltuples is -1 for a table never analyzed or vacuumed: counted as 0.
  const auto stale = w.exec_params(
      "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid"
      " WHERE s.schemaname = current_schema() AND s.relname = ANY($1::text[])"
      " AND s.n_live_tup > $2 AND s.n_live_tup > $3 * greatest(c.reltuples, 0)",
      pg::text_array(tables), min_rows, factor);
  std::vector<std::string> analyzed;
  for (const auto& row : stale) {
    const auto table = row[0].as<std::string>();
    w.exec("ANALYZE " + w.quote_name(table));
    analyzed.push_back(table);
  }
  return analyzed;
}

}  // namespace psig::storage
