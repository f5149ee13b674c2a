// POST /v1/auth/signup, POST /v1/auth/login, GET /v1/me.
#include "api/access.hpp"
#include "api/routes.hpp"
#include "api/validation.hpp"
#include "psig/common/crypto.hpp"
#include "psig/common/ids.hpp"
#include "psig/common/offload.hpp"
#include "psig/domain/credentials.hpp"

namespace psig::api {
namespace {

using nlohmann::json;

struct credentials {
  std::string email;
  std::string password;
};

std::optional<credentials> read_credentials(const http::request& req, http::response& error) {
  auto body = parse_object_body(req, error);
  if (!body) return std::nullopt;
  validator v(*body);
  v.only({"email", "password"});
  auto email = v.string("email", true, 3, 254);
  auto password = v.string("password", true, 8, 1024);
  if (email && (email->find('@') == std::string::npos || email->front() == '@' ||
                email->back() == '@' || email->find_first_of(" \t\r\n") != std::string::npos)) {
    v.fail("email", "must be an e-mail address");
  }
  if (!v.ok()) {
    error = v.error(req);
    return std::nullopt;
  }
  return credentials{*email, *password};
}

json account_json(const storage::account& a) {
  return {{"id", a.id}, {"email", a.email}, {"created_at", a.created_at}};
}

awaitable<std::string> start_session(api_context& ctx, const std::string& account_id) {
  auto token = domain::generate_session_token();
  co_await ctx.repos.accounts.create_session(account_id, common::sha256_hex(token),
                                             ctx.settings.session_ttl_seconds);
  co_return token;
}

awaitable<http::response> signup(api_context& ctx, http::request& req) {
  if (!ctx.settings.signup_enabled) {
    co_return http::error_response(req, 403, "signup_disabled", "signup is turned off");
  }
  http::response error;
  auto creds = read_credentials(req, error);
  if (!creds) co_return error;
  const int iterations = ctx.settings.password_iterations;
  // PBKDF2 takes ~0.1 s of CPU: never on an I/O thread. The lambda is named, not a temporary
  // in the co_await: g++ 12 copies such closures bitwise (see common/offload.hpp).
  auto hash_it = [password = creds->password, iterations] {
    return domain::hash_password(password, iterations);
  };
  auto hash = co_await common::offload(ctx.blocking, std::move(hash_it));
  storage::account account{common::new_id("acc"), creds->email, std::move(hash), {}};
  auto created = co_await ctx.repos.accounts.create(std::move(account));
  if (!created) {
    co_return http::error_response(req, 409, "email_taken", "an account with this e-mail exists",
                                   {{{"field", "email"}, {"message", "is already registered"}}});
  }
  auto token = co_await start_session(ctx, created->id);
  co_return http::json_response(201, {{"account", account_json(*created)}, {"token", token}});
}

awaitable<http::response> login(api_context& ctx, http::request& req) {
  http::response error;
  auto creds = read_credentials(req, error);
  if (!creds) co_return error;
  auto account = co_await ctx.repos.accounts.find_by_email(creds->email);
  std::optional<std::string> stored;
  if (account) stored = account->password_hash;
  auto verify = [password = creds->password, stored] {
    // Unknown e-mails verify against a dummy hash so both failures take the same time.
    static const std::string dummy = domain::hash_password("not a real password");
    return domain::verify_password(password, stored ? *stored : dummy);
  };
  const bool good = co_await common::offload(ctx.blocking, std::move(verify));
  if (!account || !good) {
    co_return http::error_response(req, 401, "invalid_credentials", "wrong e-mail or password");
  }
  auto token = co_await start_session(ctx, account->id);
  co_return http::json_response(200, {{"account", account_json(*account)}, {"token", token}});
}

awaitable<http::response> me(api_context& ctx, http::request& req) {
  auto a = co_await authenticate(ctx, req);
  if (!a.ok()) co_return a.error;
  const auto& who = *a.who;
  switch (who.type) {
    case principal::kind::admin:
      co_return http::json_response(200, {{"admin", true}});
    case principal::kind::api_key:
      co_return http::json_response(
          200, {{"api_key", {{"id", who.key_id}, {"project_id", who.project_id}, {"scopes", who.scopes}}}});
    case principal::kind::account:
      break;
  }
  auto account = co_await ctx.repos.accounts.find(who.account_id);
  if (!account) co_return not_found(req, "account");
  co_return http::json_response(200, {{"account", account_json(*account)}});
}

}  // namespace

void register_auth_routes(http::router& r, api_context& ctx) {
  r.add("POST", "/v1/auth/signup", [&ctx](http::request& req) { return signup(ctx, req); });
  r.add("POST", "/v1/auth/login", [&ctx](http::request& req) { return login(ctx, req); });
  r.add("GET", "/v1/me", [&ctx](http::request& req) { return me(ctx, req); });
}

}  // namespace psig::api
