#include "psig/storage/repositories.hpp"
#include "storage/pg_pool.hpp"
#include "storage/pg_util.hpp"

namespace psig::storage {
namespace {

const std::string& columns() {
  static const std::string c =
      "id, project_id, consumer_id, pattern, filter::text, " + pg::ts("created_at");
  return c;
}

subscription from_row(const pqxx::row& r) {
  return subscription{r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
                      r[3].as<std::string>(), pg::json_or_null(r[4]), r[5].as<std::string>()};
}

std::optional<subscription> first(const pqxx::result& r) {
  if (r.empty()) return std::nullopt;
  return from_row(r[0]);
}

}  // namespace

awaitable<std::optional<subscription>> subscriptions_repo::create(subscription s) {
  return pool_.run([s = std::move(s)](pqxx::connection& c) {
    pqxx::work w(c);
    const std::optional<std::string> filter =
        s.filter.is_null() ? std::nullopt : std::optional(s.filter.dump());
    // The consumer must belong to the same project: checked in the same statement, so a consumer
    // deleted concurrently cannot slip through.
    const auto r = w.exec_params(
        "INSERT INTO subscriptions (id, project_id, consumer_id, pattern, filter)"
        " SELECT $1, $2, $3, $4, $5::jsonb WHERE EXISTS"
        " (SELECT 1 FROM consumers WHERE project_id = $2 AND id = $3) RETURNING " +
            columns(),
        s.id, s.project_id, s.consumer_id, s.pattern, pg::nullable(filter));
    w.commit();
    return first(r);
  });
}

awaitable<std::optional<subscription>> subscriptions_repo::find(std::string project_id,
                                                                std::string id) {
  return pool_.run([=](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    return first(w.exec_params(
        "SELECT " + columns() + " FROM subscriptions WHERE project_id = $1 AND id = $2",
        project_id, id));
  });
}

awaitable<page<subscription>> subscriptions_repo::list(std::string project_id,
                                                       std::optional<std::string> consumer_id,
                                                       page_request req) {
  return pool_.run([=](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    const auto r = w.exec_params(
        "SELECT " + columns() +
            " FROM subscriptions WHERE project_id = $1 AND ($2::text IS NULL OR consumer_id = $2)"
            " AND ($3::text IS NULL OR id > $3) ORDER BY id LIMIT $4",
        project_id, pg::nullable(consumer_id), pg::nullable(req.cursor), req.limit + 1);
    return pg::to_page<subscription>(r, req.limit, from_row);
  });
}

awaitable<bool> subscriptions_repo::remove(std::string project_id, std::string id) {
  return pool_.run([=](pqxx::connection& c) {
    pqxx::work w(c);
    const auto r = w.exec_params("DELETE FROM subscriptions WHERE project_id = $1 AND id = $2",
                                 project_id, id);
    w.commit();
    return r.affected_rows() > 0;
  });
}

}  // namespace psig::storage
