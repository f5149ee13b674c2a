#include "psig/storage/repositories.hpp"
#include "storage/pg_pool.hpp"
#include "storage/pg_util.hpp"

namespace psig::storage {
namespace {

const std::string& columns() {
  static const std::string c = "id, project_id, name, prefix, key_hash, array_to_json(scopes)::text, " +
                               pg::ts("created_at") + ", " + pg::ts("revoked_at");
  return c;
}

api_key from_row(const pqxx::row& r) {
  api_key k;
  k.id = r[0].as<std::string>();
  k.project_id = r[1].as<std::string>();
  k.name = r[2].as<std::string>();
  k.prefix = r[3].as<std::string>();
  k.key_hash = r[4].as<std::string>();
  k.scopes = nlohmann::json::parse(r[5].c_str()).get<std::vector<std::string>>();
  k.created_at = r[6].as<std::string>();
  k.revoked_at = pg::opt_string(r[7]);
  return k;
}

std::optional<api_key> first(const pqxx::result& r) {
  if (r.empty()) return std::nullopt;
  return from_row(r[0]);
}

}  // namespace

awaitable<api_key> keys_repo::create(api_key k) {
  return pool_.run([k = std::move(k)](pqxx::connection& c) {
    pqxx::work w(c);
    const auto r = w.exec_params(
        "INSERT INTO api_keys (id, project_id, name, prefix, key_hash, scopes) VALUES"
        " ($1, $2, $3, $4, $5, ARRAY(SELECT jsonb_array_elements_text($6::jsonb))) RETURNING " +
            columns(),
        k.id, k.project_id, k.name, k.prefix, k.key_hash, nlohmann::json(k.scopes).dump());
    w.commit();
    return from_row(r[0]);
  });
}

awaitable<page<api_key>> keys_repo::list(std::string project_id, page_request req) {
  return pool_.run([project_id = std::move(project_id), req](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    const auto r = w.exec_params("SELECT " + columns() +
                                     " FROM api_keys WHERE project_id = $1"
                                     " AND ($2::text IS NULL OR id > $2) ORDER BY id LIMIT $3",
                                 project_id, pg::nullable(req.cursor), req.limit + 1);
    return pg::to_page<api_key>(r, req.limit, from_row);
  });
}

awaitable<std::optional<api_key>> keys_repo::revoke(std::string project_id, std::string id) {
  return pool_.run([=](pqxx::connection& c) {
    pqxx::work w(c);
    // Revoking twice keeps the first revocation time.
    const auto r = w.exec_params("UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())"
                                 " WHERE project_id = $1 AND id = $2 RETURNING " +
                                     columns(),
                                 project_id, id);
    w.commit();
    return first(r);
  });
}

awaitable<std::optional<api_key>> keys_repo::find_active_by_prefix(std::string prefix) {
  return pool_.run([prefix = std::move(prefix)](pqxx::connection& c) {
    pqxx::nontransaction w(c);  // one SELECT: one round trip, no BEGIN/COMMIT
    return first(w.exec_params(
        "SELECT " + columns() + " FROM api_keys WHERE prefix = $1 AND revoked_at IS NULL", prefix));
  });
}

}  // namespace psig::storage
