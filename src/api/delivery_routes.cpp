// The delivery log: GET deliveries (filtered), GET one with its attempts, retry, discard and
// bulk-retry (a dry run unless "confirm": true).
#include "api/access.hpp"
#include "api/log_json.hpp"
#include "api/routes.hpp"
#include "api/validation.hpp"
#include "psig/common/ids.hpp"
#include "psig/common/time.hpp"
#include "psig/domain/pattern.hpp"

namespace psig::api {
namespace {

using nlohmann::json;

constexpr int bulk_retry_limit = 10'000;

bool is_status(const std::string& s) {
  for (const char* k : {"scheduled", "pending", "in_flight", "succeeded", "retrying", "dead", "discarded"}) {
    if (s == k) return true;
  }
  return false;
}

// Reads the filters from `get(name)` (query parameters or body fields) into `f`.
template <class Get>
void read_filter(validator& v, Get get, storage::delivery_filter& f) {
  if (auto s = get("status")) {
    if (!is_status(*s)) v.fail("status", "must be one of scheduled, pending, in_flight, succeeded, retrying, dead, discarded");
    else f.status = *s;
  }
  if (auto c = get("consumer")) {
    if (!common::is_valid_id("con", *c)) v.fail("consumer", "is not a consumer id");
    else f.consumer_id = *c;
  }
  if (auto t = get("event_type")) {
    if (auto e = domain::validate_event_type(*t)) v.fail("event_type", *e);
    else f.event_type = *t;
  }
  for (const char* bound : {"since", "until"}) {
    if (auto t = get(bound)) {
      auto tp = common::parse_rfc3339(*t);
      if (!tp) v.fail(bound, "must be an RFC 3339 time");
      else (std::string_view(bound) == "since" ? f.since : f.until) = common::format_rfc3339(*tp);
    }
  }
}

awaitable<http::response> list_deliveries(api_context& ctx, http::request& req) {
  auto a = co_await project_access(ctx, req, "events:read");
  if (!a.ok()) co_return a.error;
  http::response error;
  auto page = page_params(req, "dlv", error);
  if (!page) co_return error;
  const json none = json::object();
  validator v(none);
  storage::delivery_filter f;
  read_filter(v, [&](const char* name) { return req.query_param(name); }, f);
  if (!v.ok()) co_return v.error(req);
  auto result = co_await ctx.repos.log.list_deliveries(a.project->id, f, *page);
  co_return http::json_response(
      200, page_json(result, [](const storage::delivery_record& d) { return delivery_json(d); }));
}

awaitable<http::response> get_delivery(api_context& ctx, http::request& req) {
  auto a = co_await project_access(ctx, req, "events:read");
  if (!a.ok()) co_return a.error;
  const auto& id = req.param("delivery");
  if (!common::is_valid_id("dlv", id)) co_return not_found(req, "delivery");
  auto d = co_await ctx.repos.log.find_delivery(a.project->id, id);
  if (!d) co_return not_found(req, "delivery");
  co_return http::json_response(200, delivery_json(*d, true));
}

awaitable<http::response> change_delivery(api_context& ctx, http::request& req, bool retry) {
  auto a = co_await project_access(ctx, req, "manage");
  if (!a.ok()) co_return a.error;
  const auto& id = req.param("delivery");
  if (!common::is_valid_id("dlv", id)) co_return not_found(req, "delivery");
  using change = storage::delivery_log_repo::change;
  const change c = retry ? co_await ctx.repos.log.retry(a.project->id, id)
                         : co_await ctx.repos.log.discard(a.project->id, id);
  if (c == change::not_found) co_return not_found(req, "delivery");
  if (c == change::conflict) {
    co_return http::error_response(req, 409, "conflict",
                                   retry ? "the delivery is already queued or in flight"
                                         : "the delivery already succeeded");
  }
  if (retry) ctx.wake_relay();
  auto d = co_await ctx.repos.log.find_delivery(a.project->id, id);
  if (!d) co_return not_found(req, "delivery");
  co_return http::json_response(retry ? 202 : 200, delivery_json(*d));
}

awaitable<http::response> bulk_retry(api_context& ctx, http::request& req) {
  auto a = co_await project_access(ctx, req, "manage");
  if (!a.ok()) co_return a.error;
  http::response error;
  auto body = parse_object_body(req, error, true);
  if (!body) co_return error;
  validator v(*body);
  v.only({"status", "consumer", "event_type", "since", "until", "confirm"});
  storage::delivery_filter f;
  read_filter(v, [&](const char* name) { return v.string(name, false, 1, 255); }, f);
  if (f.status && *f.status != "dead" && *f.status != "discarded") {
    v.fail("status", "bulk retry takes dead or discarded deliveries");
  }
  bool confirm = false;
  if (body->contains("confirm")) {
    if (!(*body)["confirm"].is_boolean()) v.fail("confirm", "must be true or false");
    else confirm = (*body)["confirm"].get<bool>();
  }
  if (!v.ok()) co_return v.error(req);
  auto result = co_await ctx.repos.log.bulk_retry(a.project->id, f, confirm, bulk_retry_limit);
  if (confirm) ctx.wake_relay();
  co_return http::json_response(confirm ? 202 : 200, {{"dry_run", !confirm},
                                                      {"count", result.count},
                                                      {"sample", result.sample}});
}

}  // namespace

void register_delivery_routes(http::router& r, api_context& ctx) {
  const std::string base = "/v1/projects/{project}/deliveries";
  r.add("GET", base, [&ctx](http::request& req) { return list_deliveries(ctx, req); });
  r.add("POST", base + "/bulk-retry", [&ctx](http::request& req) { return bulk_retry(ctx, req); });
  r.add("GET", base + "/{delivery}", [&ctx](http::request& req) { return get_delivery(ctx, req); });
  r.add("POST", base + "/{delivery}/retry",
        [&ctx](http::request& req) { return change_delivery(ctx, req, true); });
  r.add("POST", base + "/{delivery}/discard",
        [&ctx](http::request& req) { return change_delivery(ctx, req, false); });
}

}  // namespace psig::api
