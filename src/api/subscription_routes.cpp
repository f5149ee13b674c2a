// /v1/projects/{project}/subscriptions: consumer + pattern (+ payload filter).
#include "api/access.hpp"
#include "api/routes.hpp"
#include "api/validation.hpp"
#include "psig/common/ids.hpp"
#include "psig/domain/filter.hpp"
#include "psig/domain/pattern.hpp"

namespace psig::api {
namespace {

using nlohmann::json;

json subscription_json(const storage::subscription& s) {
  return {{"id", s.id},
          {"consumer_id", s.consumer_id},
          {"pattern", s.pattern},
          {"filter", s.filter},
          {"created_at", s.created_at}};
}

awaitable<http::response> create_subscription(api_context& ctx, http::request& req) {
  auto a = co_await project_access(ctx, req, "manage");
  if (!a.ok()) co_return a.error;
  http::response error;
  auto body = parse_object_body(req, error);
  if (!body) co_return error;
  validator v(*body);
  v.only({"consumer_id", "pattern", "filter"});
  auto consumer_id = v.string("consumer_id", true, 1, 64);
  if (consumer_id && !common::is_valid_id("con", *consumer_id)) {
    v.fail("consumer_id", "is not a consumer id");
    consumer_id.reset();
  }
  auto pattern = v.string("pattern", true, 1, domain::max_type_bytes);
  if (pattern) {
    if (auto e = domain::validate_pattern(*pattern)) v.fail("pattern", *e);
  }
  json filter_spec;
  if (body->contains("filter") && !(*body)["filter"].is_null()) {
    filter_spec = (*body)["filter"];
    domain::filter parsed;
    if (auto e = domain::filter::parse(filter_spec, parsed)) {
      v.fail(e->path.empty() ? "filter" : "filter." + e->path, e->message);
    }
  }
  if (!v.ok()) co_return v.error(req);
  // Named, not a temporary inside the co_await: g++ 12 destroys such aggregates wrongly.
  storage::subscription s{common::new_id("sub"), a.project->id, *consumer_id, *pattern,
                          filter_spec, {}};
  auto created = co_await ctx.repos.subscriptions.create(std::move(s));
  if (!created) {
    co_return http::error_response(req, 422, "validation_failed",
                                   "consumer_id: no such consumer in this project",
                                   {{{"field", "consumer_id"}, {"message", "no such consumer in this project"}}});
  }
  ctx.project_changed(a.project->id);
  co_return http::json_response(201, subscription_json(*created));
}

awaitable<http::response> list_subscriptions(api_context& ctx, http::request& req) {
  auto a = co_await project_access(ctx, req, "manage");
  if (!a.ok()) co_return a.error;
  http::response error;
  auto page = page_params(req, "sub", error);
  if (!page) co_return error;
  auto consumer_id = req.query_param("consumer_id");
  if (consumer_id && !common::is_valid_id("con", *consumer_id)) {
    co_return http::error_response(req, 400, "validation_failed", "consumer_id: not a consumer id",
                                   {{{"field", "consumer_id"}, {"message", "not a consumer id"}}});
  }
  auto result = co_await ctx.repos.subscriptions.list(a.project->id, consumer_id, *page);
  co_return http::json_response(200, page_json(result, subscription_json));
}

awaitable<http::response> get_subscription(api_context& ctx, http::request& req) {
  auto a = co_await project_access(ctx, req, "manage");
  if (!a.ok()) co_return a.error;
  const auto& id = req.param("subscription");
  if (!common::is_valid_id("sub", id)) co_return not_found(req, "subscription");
  auto s = co_await ctx.repos.subscriptions.find(a.project->id, id);
  if (!s) co_return not_found(req, "subscription");
  co_return http::json_response(200, subscription_json(*s));
}

awaitable<http::response> delete_subscription(api_context& ctx, http::request& req) {
  auto a = co_await project_access(ctx, req, "manage");
  if (!a.ok()) co_return a.error;
  const auto& id = req.param("subscription");
  if (!common::is_valid_id("sub", id) || !co_await ctx.repos.subscriptions.remove(a.project->id, id)) {
    co_return not_found(req, "subscription");
  }
  ctx.project_changed(a.project->id);
  co_return http::empty_response(204);
}

}  // namespace

void register_subscription_routes(http::router& r, api_context& ctx) {
  const std::string base = "/v1/projects/{project}/subscriptions";
  r.add("POST", base, [&ctx](http::request& req) { return create_subscription(ctx, req); });
  r.add("GET", base, [&ctx](http::request& req) { return list_subscriptions(ctx, req); });
  r.add("GET", base + "/{subscription}",
        [&ctx](http::request& req) { return get_subscription(ctx, req); });
  r.add("DELETE", base + "/{subscription}",
        [&ctx](http::request& req) { return delete_subscription(ctx, req); });
}

}  // namespace psig::api
