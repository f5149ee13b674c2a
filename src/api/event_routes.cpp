// POST /v1/projects/{project}/events (and /events/batch), GET events: the ingest side.
#include "api/access.hpp"
#include "api/routes.hpp"
#include "api/log_json.hpp"
#include "api/validation.hpp"
#include "delivery/ingest_batcher.hpp"
#include "psig/common/ids.hpp"
#include "psig/domain/envelope.hpp"

namespace psig::api {
namespace {

using nlohmann::json;
using clock = std::chrono::system_clock;

constexpr std::size_t max_event_bytes = 256 * 1024;
constexpr std::size_t max_batch_events = 500;

json field_errors_json(const std::vector<domain::field_error>& errors) {
  json details = json::array();
  for (const auto& e : errors) details.push_back({{"field", e.field}, {"message", e.message}});
  return details;
}

std::string errors_message(const std::vector<domain::field_error>& errors) {
  std::string m = "invalid event: ";
  for (std::size_t i = 0; i < errors.size() && i < 5; ++i) {
    m += (i ? "; " : "") + errors[i].field + " " + errors[i].message;
  }
  return m;
}

bool idempotency_key_ok(std::string_view k) {
  if (k.empty() || k.size() > 255) return false;
  for (char c : k) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

http::response rate_limited(const http::request& req, const rate_decision& d) {
  auto res = http::error_response(req, 429, "rate_limited", "the project's ingest rate limit is exceeded");
  res.headers.emplace_back("Retry-After", std::to_string(std::max(1, d.retry_after_seconds)));
  return res;
}

json accepted_json(const delivery::ingest_result& r) {
  return {{"id", r.event_id},
          {"deliveries", r.deliveries},
          {"duplicate", r.result == delivery::ingest_result::outcome::duplicate}};
}

awaitable<http::response> post_event(api_context& ctx, http::request& req) {
  auto a = co_await project_access(ctx, req, "events:write");
  if (!a.ok()) co_return a.error;
  if (req.body.size() > max_event_bytes) {
    co_return http::error_response(req, 413, "body_too_large", "body: an event is at most 256 KiB",
                                   {{{"field", "body"}, {"message", "larger than 256 KiB"}}});
  }
  http::response error;
  auto body = parse_object_body(req, error);
  if (!body) co_return error;
  const auto header_key = req.header("idempotency-key");
  if (header_key && !idempotency_key_ok(*header_key)) {
    co_return http::error_response(
        req, 400, "validation_failed", "Idempotency-Key: must be 1-255 printable ASCII characters",
        {{{"field", "Idempotency-Key"}, {"message", "must be 1-255 printable ASCII characters"}}});
  }
  std::vector<domain::field_error> errors;
  auto parsed = domain::parse_event_request(*body, clock::now(), errors);
  if (!parsed) {
    co_return http::error_response(req, 400, "validation_failed", errors_message(errors),
                                   field_errors_json(errors));
  }
  if (header_key) parsed->idempotency_key = std::string(*header_key);
  if (ctx.admit) {
    const auto decision = co_await ctx.admit(*a.project, 1);
    if (!decision.allowed) co_return rate_limited(req, decision);
  }
  std::vector<delivery::ingest_item> items;
  items.push_back(delivery::make_ingest_item(a.project->id, std::move(*parsed), *body));
  const auto results = co_await ctx.ingest->submit(std::move(items));
  const auto& r = results.at(0);
  if (r.result == delivery::ingest_result::outcome::conflict) {
    const char* field = header_key ? "Idempotency-Key" : "id";
    co_return http::error_response(
        req, 409, "idempotency_conflict",
        std::string(field) + ": already used for an event with a different body",
        {{{"field", field}, {"message", "already used with a different body"}, {"event_id", r.event_id}}});
  }
  co_return http::json_response(202, accepted_json(r));
}

awaitable<http::response> post_batch(api_context& ctx, http::request& req) {
  auto a = co_await project_access(ctx, req, "events:write");
  if (!a.ok()) co_return a.error;
  http::response error;
  auto body = parse_object_body(req, error);
  if (!body) co_return error;
  validator v(*body);
  v.only({"events"});
  const auto it = body->find("events");
  if (it == body->end() || !it->is_array() || it->empty() || it->size() > max_batch_events) {
    v.fail("events", "must be a list of 1-500 events");
  }
  if (!v.ok()) co_return v.error(req);

  const auto now = clock::now();
  json data = json::array();
  std::vector<delivery::ingest_item> items;
  std::vector<std::size_t> slot_of_item;
  for (std::size_t i = 0; i < it->size(); ++i) {
    const auto& event = (*it)[i];
    std::vector<domain::field_error> errors;
    std::optional<domain::event_request> parsed;
    if (event.dump(-1, ' ', false, json::error_handler_t::replace).size() > max_event_bytes) {
      errors.push_back({"body", "larger than 256 KiB"});
    } else {
      parsed = domain::parse_event_request(event, now, errors);
    }
    if (!parsed) {
      data.push_back({{"error",
                       {{"code", "validation_failed"},
                        {"message", errors_message(errors)},
                        {"details", field_errors_json(errors)}}}});
      continue;
    }
    slot_of_item.push_back(i);
    items.push_back(delivery::make_ingest_item(a.project->id, std::move(*parsed), event));
    data.push_back(nullptr);
  }
  if (!items.empty()) {
    if (ctx.admit) {
      const auto decision = co_await ctx.admit(*a.project, items.size());
      if (!decision.allowed) co_return rate_limited(req, decision);
    }
    const auto results = co_await ctx.ingest->submit(std::move(items));
    for (std::size_t k = 0; k < results.size(); ++k) {
      const auto& r = results[k];
      if (r.result == delivery::ingest_result::outcome::conflict) {
        data[slot_of_item[k]] = {{"error",
                                  {{"code", "idempotency_conflict"},
                                   {"message", "id: already used for an event with a different body"},
                                   {"details", {{{"field", "id"}, {"event_id", r.event_id}}}}}}};
      } else {
        data[slot_of_item[k]] = accepted_json(r);
      }
    }
  }
  co_return http::json_response(202, {{"data", std::move(data)}});
}

awaitable<http::response> list_events(api_context& ctx, http::request& req) {
  auto a = co_await project_access(ctx, req, "events:read");
  if (!a.ok()) co_return a.error;
  http::response error;
  auto page = page_params(req, "evt", error);
  if (!page) co_return error;
  auto type = req.query_param("type");
  if (type && domain::validate_event_type(*type)) {
    co_return http::error_response(req, 400, "validation_failed", "type: not an event type",
                                   {{{"field", "type"}, {"message", "not an event type"}}});
  }
  auto result = co_await ctx.repos.log.list_events(a.project->id, type, *page);
  co_return http::json_response(200, page_json(result, event_json));
}

awaitable<http::response> get_event(api_context& ctx, http::request& req) {
  auto a = co_await project_access(ctx, req, "events:read");
  if (!a.ok()) co_return a.error;
  const auto& id = req.param("event");
  if (!common::is_valid_id("evt", id)) co_return not_found(req, "event");
  auto event = co_await ctx.repos.log.find_event(a.project->id, id);
  if (!event) co_return not_found(req, "event");
  auto deliveries = co_await ctx.repos.log.deliveries_of_event(a.project->id, id);
  auto j = event_json(*event);
  j["deliveries"] = json::array();
  for (const auto& d : deliveries) j["deliveries"].push_back(delivery_json(d));
  co_return http::json_response(200, j);
}

}  // namespace

void register_event_routes(http::router& r, api_context& ctx) {
  const std::string base = "/v1/projects/{project}/events";
  r.add("POST", base, [&ctx](http::request& req) { return post_event(ctx, req); });
  r.add("POST", base + "/batch", [&ctx](http::request& req) { return post_batch(ctx, req); });
  r.add("GET", base, [&ctx](http::request& req) { return list_events(ctx, req); });
  r.add("GET", base + "/{event}", [&ctx](http::request& req) { return get_event(ctx, req); });
}

}  // namespace psig::api
