// /v1/projects/{project}/keys: the secret is returned once, at creation.
#include <set>

#include "api/access.hpp"
#include "api/routes.hpp"
#include "api/validation.hpp"
#include "psig/common/ids.hpp"
#include "psig/domain/credentials.hpp"

namespace psig::api {
namespace {

using nlohmann::json;

json key_json(const storage::api_key& k) {
  return {{"id", k.id},
          {"name", k.name},
          {"prefix", k.prefix},
          {"scopes", k.scopes},
          {"created_at", k.created_at},
          {"revoked_at", k.revoked_at ? json(*k.revoked_at) : json()}};
}

awaitable<http::response> create_key(api_context& ctx, http::request& req) {
  auto a = co_await project_access(ctx, req, "manage");
  if (!a.ok()) co_return a.error;
  http::response error;
  auto body = parse_object_body(req, error);
  if (!body) co_return error;
  validator v(*body);
  v.only({"name", "scopes"});
  auto name = v.string("name", true, 1, 200);
  std::vector<std::string> scopes;
  const auto it = body->find("scopes");
  if (it == body->end() || !it->is_array() || it->empty()) {
    v.fail("scopes", "must be a non-empty list of events:write, events:read, manage, ws");
  } else {
    std::set<std::string> seen;
    for (const auto& s : *it) {
      if (!s.is_string() || !domain::is_api_key_scope(s.get<std::string>())) {
        v.fail("scopes", "unknown scope (allowed: events:write, events:read, manage, ws)");
        break;
      }
      if (seen.insert(s.get<std::string>()).second) scopes.push_back(s.get<std::string>());
    }
  }
  if (!v.ok()) co_return v.error(req);

  const auto generated = domain::generate_api_key();
  storage::api_key k{common::new_id("key"), a.project->id, *name, generated.prefix,
                     generated.hash, scopes, {}, std::nullopt};
  auto created = co_await ctx.repos.keys.create(std::move(k));
  auto j = key_json(created);
  j["key"] = generated.key;
  co_return http::json_response(201, j);
}

awaitable<http::response> list_keys(api_context& ctx, http::request& req) {
  auto a = co_await project_access(ctx, req, "manage");
  if (!a.ok()) co_return a.error;
  http::response error;
  auto page = page_params(req, "key", error);
  if (!page) co_return error;
  auto result = co_await ctx.repos.keys.list(a.project->id, *page);
  co_return http::json_response(200, page_json(result, key_json));
}

awaitable<http::response> revoke_key(api_context& ctx, http::request& req) {
  auto a = co_await project_access(ctx, req, "manage");
  if (!a.ok()) co_return a.error;
  const auto& key_id = req.param("key");
  if (!common::is_valid_id("key", key_id)) co_return not_found(req, "key");
  // Keys are checked against the database on every request: revocation takes effect at once.
  auto revoked = co_await ctx.repos.keys.revoke(a.project->id, key_id);
  if (!revoked) co_return not_found(req, "key");
  ctx.project_changed(a.project->id);  // the key stops working on every node at once
  co_return http::empty_response(204);
}

}  // namespace

void register_key_routes(http::router& r, api_context& ctx) {
  r.add("POST", "/v1/projects/{project}/keys",
        [&ctx](http::request& req) { return create_key(ctx, req); });
  r.add("GET", "/v1/projects/{project}/keys",
        [&ctx](http::request& req) { return list_keys(ctx, req); });
  r.add("DELETE", "/v1/projects/{project}/keys/{key}",
        [&ctx](http::request& req) { return revoke_key(ctx, req); });
}

}  // namespace psig::api
