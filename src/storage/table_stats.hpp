#pragma once
// Planner statistics of the queue-like tables, kept close to their size. VACUUM of a table
// emptied by its consumers records 0 live rows over the pages it keeps, and PostgreSQL then
// estimates 0 rows however far the table grows again, until the next auto-analyze. Plans made
// meanwhile — the hot statements' generic plans, cached per connection — pick any index that
// holds the column (a full scan of `deliveries (consumer_id, id)` for one id) and nested loops
// over whole tables: measured, one relay claim of 500 rows took ~4 s of PostgreSQL CPU, and a
// 30,000-delivery drain ran at ~550/s instead of ~3,600/s for the ~50 s until auto-analyze.
// ANALYZE invalidates the cached plans that depend on the table.
#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace psig::storage {

// ANALYZEs each of `tables` whose live rows (the statistics system's running count) exceed
// `min_rows` and `factor` times what its planner statistics say; returns those analyzed.
std::vector<std::string> analyze_stale(pqxx::connection& c, const std::vector<std::string>& tables,
                                       double min_rows = 1000, double factor = 4);

}  // namespace psig::storage
