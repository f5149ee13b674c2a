#include "psig/storage/repositories.hpp"
#include "storage/pg_pool.hpp"
#include "storage/pg_util.hpp"

namespace psig::storage {
namespace {

const std::string& columns() {
  static const std::string c =
      "id, project_id, name, kind, url, headers::text, template::text, settings::text, status,"
      " disabled_reason, secret, previous_secret, " +
      pg::ts("previous_secret_expires_at") + ", " + pg::ts("created_at") + ", " +
      pg::ts("updated_at");
  return c;
}

consumer from_row(const pqxx::row& r) {
  consumer c;
  c.id = r[0].as<std::string>();
  c.project_id = r[1].as<std::string>();
  c.name = r[2].as<std::string>();
  c.kind = r[3].as<std::string>();
  c.url = pg::opt_string(r[4]);
  c.headers = nlohmann::json::parse(r[5].c_str());
  c.body_template = pg::json_or_null(r[6]);
  c.settings = nlohmann::json::parse(r[7].c_str());
  c.status = r[8].as<std::string>();
  c.disabled_reason = pg::opt_string(r[9]);
  c.secret = r[10].as<std::string>();
  c.previous_secret = pg::opt_string(r[11]);
  c.previous_secret_expires_at = pg::opt_string(r[12]);
  c.created_at = r[13].as<std::string>();
  c.updated_at = r[14].as<std::string>();
  return c;
}

std::optional<consumer> first(const pqxx::result& r) {
  if (r.empty()) return std::nullopt;
  return from_row(r[0]);
}

std::optional<std::string> template_text(const consumer& c) {
  if (c.body_template.is_null()) return std::nullopt;
  return c.body_template.dump();
}

}  // namespace

awaitable<consumer> consumers_repo::create(consumer k) {
  return pool_.run([k = std::move(k)](pqxx::connection& c) {
    pqxx::work w(c);
    const auto tmpl = template_text(k);
    const auto r = w.exec_params(
        "INSERT INTO consumers (id, project_id, name, kind, url, headers, template, settings,"
        " status, secret) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8::jsonb, $9, $10)"
        " RETURNING " +
            columns(),
        k.id, k.project_id, k.name, k.kind, pg::nullable(k.url), k.headers.dump(),
        pg::nullable(tmpl), k.settings.dump(), k.status, k.secret);
    w.commit();
    return from_row(r[0]);
  });
}

awaitable<std::optional<consumer>> consumers_repo::find(std::string project_id, std::string id) {
  return pool_.run([=](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    return first(w.exec_params(
        "SELECT " + columns() + " FROM consumers WHERE project_id = $1 AND id = $2", project_id,
        id));
  });
}

awaitable<page<consumer>> consumers_repo::list(std::string project_id, page_request req) {
  return pool_.run([project_id = std::move(project_id), req](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    const auto r = w.exec_params("SELECT " + columns() +
                                     " FROM consumers WHERE project_id = $1"
                                     " AND ($2::text IS NULL OR id > $2) ORDER BY id LIMIT $3",
                                 project_id, pg::nullable(req.cursor), req.limit + 1);
    return pg::to_page<consumer>(r, req.limit, from_row);
  });
}

awaitable<std::vector<consumer>> consumers_repo::websocket_consumers(std::string project_id) {
  return pool_.run([project_id = std::move(project_id)](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    const auto r = w.exec_params("SELECT " + columns() +
                                     " FROM consumers WHERE project_id = $1 AND kind = 'websocket'"
                                     " ORDER BY id",
                                 project_id);
    std::vector<consumer> out;
    out.reserve(r.size());
    for (const auto& row : r) out.push_back(from_row(row));
    return out;
  });
}

awaitable<std::optional<consumer>> consumers_repo::update(consumer k) {
  return pool_.run([k = std::move(k)](pqxx::connection& c) {
    pqxx::work w(c);
    const auto tmpl = template_text(k);
    const auto r = w.exec_params(
        "UPDATE consumers SET name = $3, url = $4, headers = $5::jsonb, template = $6::jsonb,"
        " settings = $7::jsonb, updated_at = now() WHERE project_id = $1 AND id = $2"
        " RETURNING " +
            columns(),
        k.project_id, k.id, k.name, pg::nullable(k.url), k.headers.dump(), pg::nullable(tmpl),
        k.settings.dump());
    w.commit();
    return first(r);
  });
}

awaitable<std::optional<consumer>> consumers_repo::set_status(std::string project_id,
                                                              std::string id, std::string status,
                                                              std::optional<std::string> reason) {
  return pool_.run([=](pqxx::connection& c) {
    pqxx::work w(c);
    const auto r = w.exec_params(
        "UPDATE consumers SET status = $3, disabled_reason = $4, updated_at = now()"
        " WHERE project_id = $1 AND id = $2 RETURNING " +
            columns(),
        project_id, id, status, pg::nullable(reason));
    w.commit();
    return first(r);
  });
}

awaitable<std::optional<consumer>> consumers_repo::rotate_secret(std::string project_id,
                                                                 std::string id,
                                                                 std::string new_secret,
                                                                 int overlap_seconds) {
  return pool_.run([=](pqxx::connection& c) {
    pqxx::work w(c);
    const auto r = w.exec_params(
        "UPDATE consumers SET previous_secret = secret, secret = $3,"
        " previous_secret_expires_at = now() + make_interval(secs => $4), updated_at = now()"
        " WHERE project_id = $1 AND id = $2 RETURNING " +
            columns(),
        project_id, id, new_secret, overlap_seconds);
    w.commit();
    return first(r);
  });
}

awaitable<bool> consumers_repo::remove(std::string project_id, std::string id) {
  return pool_.run([=](pqxx::connection& c) {
    pqxx::work w(c);
    // Subscriptions and deliveries of the consumer cascade.
    const auto r =
        w.exec_params("DELETE FROM consumers WHERE project_id = $1 AND id = $2", project_id, id);
    w.commit();
    return r.affected_rows() > 0;
  });
}

}  // namespace psig::storage
