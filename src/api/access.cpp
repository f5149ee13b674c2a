#include "api/access.hpp"

#include <algorithm>

#include "psig/common/crypto.hpp"
#include "psig/common/ids.hpp"
#include "psig/domain/credentials.hpp"

namespace psig::api {
namespace {

access denied(const http::request& req, int status, std::string_view code, std::string_view message) {
  access a;
  a.error = http::error_response(req, status, code, message);
  if (status == 401) a.error.headers.emplace_back("WWW-Authenticate", "Bearer");
  return a;
}

}  // namespace

bool principal::has_scope(std::string_view scope) const {
  if (type != kind::api_key) return true;
  return std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
}

awaitable<access> authenticate(api_context& ctx, const http::request& req) {
  const auto header = req.header("authorization");
  constexpr std::string_view bearer = "Bearer ";
  if (!header || header->size() <= bearer.size() ||
      !std::equal(bearer.begin(), bearer.end(), header->begin(),
                  [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
    co_return denied(req, 401, "unauthorized", "missing bearer token");
  }
  const std::string token(header->substr(bearer.size()));

  if (!ctx.settings.admin_token.empty() &&
      common::constant_time_equal(token, ctx.settings.admin_token)) {
    co_return access{principal{principal::kind::admin}, std::nullopt, {}};
  }
  if (token.rfind("psk_", 0) == 0) {
    const auto prefix = domain::api_key_prefix(token);
    if (prefix) {
      std::optional<storage::api_key> key;
      if (ctx.credentials) key = ctx.credentials->key(*prefix);
      if (!key) {
        key = co_await ctx.repos.keys.find_active_by_prefix(*prefix);
        if (key && ctx.credentials) ctx.credentials->put_key(*prefix, *key);
      }
      // Compare hashes in constant time: the prefix lookup must not become a timing oracle.
      if (key && common::constant_time_equal(domain::hash_api_key(token), key->key_hash)) {
        principal p{principal::kind::api_key};
        p.key_id = key->id;
        p.project_id = key->project_id;
        p.scopes = key->scopes;
        co_return access{std::move(p), std::nullopt, {}};
      }
    }
    co_return denied(req, 401, "unauthorized", "invalid or revoked API key");
  }
  if (token.rfind("pst_", 0) == 0) {
    auto acc = co_await ctx.repos.accounts.find_by_session(common::sha256_hex(token));
    if (acc) {
      principal p{principal::kind::account};
      p.account_id = acc->id;
      p.email = acc->email;
      co_return access{std::move(p), std::nullopt, {}};
    }
    co_return denied(req, 401, "unauthorized", "invalid or expired session token");
  }
  co_return denied(req, 401, "unauthorized", "unknown token");
}

awaitable<access> project_access(api_context& ctx, const http::request& req,
                                 std::string_view key_scope, bool accounts_only) {
  auto a = co_await authenticate(ctx, req);
  if (!a.ok()) co_return a;
  const auto& who = *a.who;
  const auto& project_id = req.param("project");
  const auto missing = [&] { return denied(req, 404, "not_found", "project not found"); };
  if (!common::is_valid_id("prj", project_id)) co_return missing();
  if (who.type == principal::kind::api_key) {
    if (who.project_id != project_id) co_return missing();
    if (accounts_only) {
      co_return denied(req, 403, "forbidden", "this call needs an account or admin token");
    }
    if (!who.has_scope(key_scope)) {
      co_return denied(req, 403, "forbidden",
                       "the API key lacks the '" + std::string(key_scope) + "' scope");
    }
  }
  std::optional<storage::project> project;
  if (ctx.credentials) project = ctx.credentials->project(project_id);
  if (!project) {
    project = co_await ctx.repos.projects.find(project_id);
    if (project && ctx.credentials) ctx.credentials->put_project(*project);
  }
  if (!project) co_return missing();
  if (who.type == principal::kind::account && project->account_id != who.account_id) {
    co_return missing();
  }
  a.project = std::move(project);
  co_return a;
}

}  // namespace psig::api
