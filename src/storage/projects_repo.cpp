#include "psig/storage/repositories.hpp"
#include "storage/pg_pool.hpp"
#include "storage/pg_util.hpp"

namespace psig::storage {
namespace {

const std::string& columns() {
  static const std::string c = "id, account_id, name, settings::text, retention_days, "
                               "realtime_secret, " +
                               pg::ts("created_at") + ", " + pg::ts("updated_at");
  return c;
}

project from_row(const pqxx::row& r) {
  project p;
  p.id = r[0].as<std::string>();
  p.account_id = pg::opt_string(r[1]);
  p.name = r[2].as<std::string>();
  p.settings = nlohmann::json::parse(r[3].c_str());
  p.retention_days = r[4].as<int>();
  p.realtime_secret = r[5].as<std::string>();
  p.created_at = r[6].as<std::string>();
  p.updated_at = r[7].as<std::string>();
  return p;
}

std::optional<project> first(const pqxx::result& r) {
  if (r.empty()) return std::nullopt;
  return from_row(r[0]);
}

}  // namespace

awaitable<project> projects_repo::create(project p) {
  return pool_.run([p = std::move(p)](pqxx::connection& c) {
    pqxx::work w(c);
    const auto r = w.exec_params(
        "INSERT INTO projects (id, account_id, name, settings, retention_days, realtime_secret) "
        "VALUES ($1, $2, $3, $4::jsonb, $5, $6) RETURNING " +
            columns(),
        p.id, pg::nullable(p.account_id), p.name, p.settings.dump(), p.retention_days,
        p.realtime_secret);
    w.commit();
    return from_row(r[0]);
  });
}

awaitable<std::optional<project>> projects_repo::find(std::string id) {
  return pool_.run([id = std::move(id)](pqxx::connection& c) {
    pqxx::nontransaction w(c);  // one SELECT: one round trip, no BEGIN/COMMIT
    return first(w.exec_params("SELECT " + columns() + " FROM projects WHERE id = $1", id));
  });
}

awaitable<page<project>> projects_repo::list(std::optional<std::string> owner, page_request req) {
  return pool_.run([owner = std::move(owner), req](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    const auto r = w.exec_params("SELECT " + columns() +
                                     " FROM projects WHERE ($1::text IS NULL OR account_id = $1)"
                                     " AND ($2::text IS NULL OR id > $2) ORDER BY id LIMIT $3",
                                 pg::nullable(owner), pg::nullable(req.cursor), req.limit + 1);
    return pg::to_page<project>(r, req.limit, from_row);
  });
}

awaitable<std::optional<project>> projects_repo::update(project p) {
  return pool_.run([p = std::move(p)](pqxx::connection& c) {
    pqxx::work w(c);
    const auto r = w.exec_params(
        "UPDATE projects SET name = $2, settings = $3::jsonb, retention_days = $4,"
        " updated_at = now() WHERE id = $1 RETURNING " +
            columns(),
        p.id, p.name, p.settings.dump(), p.retention_days);
    w.commit();
    return first(r);
  });
}

awaitable<bool> projects_repo::remove(std::string id) {
  return pool_.run([id = std::move(id)](pqxx::connection& c) {
    pqxx::work w(c);
    // Foreign keys cascade: keys, consumers, subscriptions, events, deliveries, attempts, outbox.
    const auto r = w.exec_params("DELETE FROM projects WHERE id = $1", id);
    w.commit();
    return r.affected_rows() > 0;
  });
}

}  // namespace psig::storage
