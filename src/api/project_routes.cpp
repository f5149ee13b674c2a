// /v1/projects and /v1/projects/{project}.
#include "api/access.hpp"
#include "api/routes.hpp"
#include "api/validation.hpp"
#include "psig/common/ids.hpp"
#include "psig/domain/credentials.hpp"

namespace psig::api {
namespace {

using nlohmann::json;

// Known per-project settings; later issues read them (rate limits, connection caps).
void check_settings(validator& v, const json& settings) {
  if (!settings.is_object()) {
    v.fail("settings", "must be an object");
    return;
  }
  for (const auto& [key, value] : settings.items()) {
    const auto field = "settings." + key;
    if (key == "ingest_rate_per_second" || key == "ingest_burst" || key == "max_ws_connections") {
      if (!value.is_number_integer() || value.get<long long>() < 0 ||
          value.get<long long>() > 10'000'000) {
        v.fail(field, "must be an integer 0-10000000");
      }
    } else {
      v.fail(field, "unknown setting");
    }
  }
}

// Reads name, settings and retention_days into `p`; on create the name is required.
void read_project_fields(validator& v, const json& body, storage::project& p, bool creating) {
  v.only({"name", "settings", "retention_days"});
  if (auto name = v.string("name", creating, 1, 200)) p.name = *name;
  if (body.contains("settings")) {
    check_settings(v, body["settings"]);
    p.settings = body["settings"];
  }
  if (body.contains("retention_days")) {
    const auto& rd = body["retention_days"];
    if (!rd.is_number_integer() || rd.get<long long>() < 1 || rd.get<long long>() > 3650) {
      v.fail("retention_days", "must be an integer 1-3650");
    } else {
      p.retention_days = rd.get<int>();
    }
  }
}

json project_json(const storage::project& p, bool with_secret) {
  json j{{"id", p.id},
         {"name", p.name},
         {"settings", p.settings},
         {"retention_days", p.retention_days},
         {"created_at", p.created_at},
         {"updated_at", p.updated_at}};
  if (with_secret) j["realtime_secret"] = p.realtime_secret;
  return j;
}

awaitable<http::response> create_project(api_context& ctx, http::request& req) {
  auto a = co_await authenticate(ctx, req);
  if (!a.ok()) co_return a.error;
  if (a.who->type == principal::kind::api_key) {
    co_return http::error_response(req, 403, "forbidden", "API keys cannot create projects");
  }
  http::response error;
  auto body = parse_object_body(req, error);
  if (!body) co_return error;
  validator v(*body);
  storage::project p;
  read_project_fields(v, *body, p, true);
  if (!v.ok()) co_return v.error(req);
  p.id = common::new_id("prj");
  if (a.who->type == principal::kind::account) p.account_id = a.who->account_id;
  p.realtime_secret = domain::generate_realtime_secret();
  auto created = co_await ctx.repos.projects.create(std::move(p));
  co_return http::json_response(201, project_json(created, true));
}

awaitable<http::response> list_projects(api_context& ctx, http::request& req) {
  auto a = co_await authenticate(ctx, req);
  if (!a.ok()) co_return a.error;
  if (a.who->type == principal::kind::api_key) {
    co_return http::error_response(req, 403, "forbidden", "API keys cannot list projects");
  }
  http::response error;
  auto page = page_params(req, "prj", error);
  if (!page) co_return error;
  std::optional<std::string> owner;
  if (a.who->type == principal::kind::account) owner = a.who->account_id;
  auto result = co_await ctx.repos.projects.list(owner, *page);
  co_return http::json_response(
      200, page_json(result, [](const storage::project& p) { return project_json(p, false); }));
}

awaitable<http::response> get_project(api_context& ctx, http::request& req) {
  auto a = co_await project_access(ctx, req, "manage");
  if (!a.ok()) co_return a.error;
  co_return http::json_response(200, project_json(*a.project, true));
}

awaitable<http::response> update_project(api_context& ctx, http::request& req) {
  auto a = co_await project_access(ctx, req, "manage", true);
  if (!a.ok()) co_return a.error;
  http::response error;
  auto body = parse_object_body(req, error);
  if (!body) co_return error;
  validator v(*body);
  auto p = *a.project;
  read_project_fields(v, *body, p, false);
  if (!v.ok()) co_return v.error(req);
  auto updated = co_await ctx.repos.projects.update(std::move(p));
  if (updated) ctx.project_changed(updated->id);  // new settings (rate limits, caps) everywhere
  if (!updated) co_return not_found(req, "project");
  co_return http::json_response(200, project_json(*updated, true));
}

awaitable<http::response> delete_project(api_context& ctx, http::request& req) {
  auto a = co_await project_access(ctx, req, "manage", true);
  if (!a.ok()) co_return a.error;
  if (!co_await ctx.repos.projects.remove(a.project->id)) co_return not_found(req, "project");
  ctx.project_changed(a.project->id);  // frees its cached routes and credentials on every node
  co_return http::empty_response(204);
}

}  // namespace

void register_project_routes(http::router& r, api_context& ctx) {
  r.add("POST", "/v1/projects", [&ctx](http::request& req) { return create_project(ctx, req); });
  r.add("GET", "/v1/projects", [&ctx](http::request& req) { return list_projects(ctx, req); });
  r.add("GET", "/v1/projects/{project}", [&ctx](http::request& req) { return get_project(ctx, req); });
  r.add("PATCH", "/v1/projects/{project}",
        [&ctx](http::request& req) { return update_project(ctx, req); });
  r.add("DELETE", "/v1/projects/{project}",
        [&ctx](http::request& req) { return delete_project(ctx, req); });
}

}  // namespace psig::api
