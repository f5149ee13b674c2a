#include "psig/common/ids.hpp"
#include "psig/storage/repositories.hpp"
#include "storage/pg_pool.hpp"
#include "storage/pg_util.hpp"

namespace psig::storage {
namespace {

const std::string& columns() {
  static const std::string c = "id, email, password_hash, " + pg::ts("created_at");
  return c;
}

account from_row(const pqxx::row& r) {
  return account{r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
                 r[3].as<std::string>()};
}

std::optional<account> first(const pqxx::result& r) {
  if (r.empty()) return std::nullopt;
  return from_row(r[0]);
}

}  // namespace

awaitable<std::optional<account>> accounts_repo::create(account a) {
  return pool_.run([a = std::move(a)](pqxx::connection& c) -> std::optional<account> {
    pqxx::work w(c);
    // ON CONFLICT on the lower(email) index: a taken e-mail is an answer, not an exception.
    const auto r = w.exec_params("INSERT INTO accounts (id, email, password_hash) "
                                 "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING " +
                                     columns(),
                                 a.id, a.email, a.password_hash);
    w.commit();
    return first(r);
  });
}

awaitable<std::optional<account>> accounts_repo::find_by_email(std::string email) {
  return pool_.run([email = std::move(email)](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    return first(w.exec_params(
        "SELECT " + columns() + " FROM accounts WHERE lower(email) = lower($1)", email));
  });
}

awaitable<std::optional<account>> accounts_repo::find(std::string id) {
  return pool_.run([id = std::move(id)](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    return first(w.exec_params("SELECT " + columns() + " FROM accounts WHERE id = $1", id));
  });
}

awaitable<bool> accounts_repo::create_session(std::string account_id, std::string token_hash,
                                              int ttl_seconds) {
  return pool_.run([=](pqxx::connection& c) {
    pqxx::work w(c);
    w.exec_params(
        "INSERT INTO sessions (id, account_id, token_hash, expires_at) "
        "VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
        common::new_id("ses"), account_id, token_hash, ttl_seconds);
    // Expired sessions of this account go away here, so the table never grows without bound.
    w.exec_params("DELETE FROM sessions WHERE account_id = $1 AND expires_at < now()", account_id);
    w.commit();
    return true;
  });
}

awaitable<std::optional<account>> accounts_repo::find_by_session(std::string token_hash) {
  return pool_.run([token_hash = std::move(token_hash)](pqxx::connection& c) {
    pqxx::nontransaction w(c);  // one SELECT: one round trip, no BEGIN/COMMIT
    static const std::string sql = "SELECT a.id, a.email, a.password_hash, " +
                                   pg::ts("a.created_at") +
                                   " FROM sessions s JOIN accounts a ON a.id = s.account_id"
                                   " WHERE s.token_hash = $1 AND s.expires_at > now()";
    return first(w.exec_params(sql, token_hash));
  });
}

}  // namespace psig::storage
