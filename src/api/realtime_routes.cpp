// /v1/projects/{project}/ws-tokens: client tokens for the WebSocket gateway (DESIGN §9).
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "api/access.hpp"
#include "api/routes.hpp"
#include "api/validation.hpp"
#include "psig/common/ids.hpp"
#include "psig/common/time.hpp"
#include "psig/domain/client_token.hpp"
#include "psig/domain/pattern.hpp"

namespace psig::api {
namespace {

using nlohmann::json;

constexpr std::int64_t default_ttl_seconds = 3600;
constexpr std::int64_t max_ttl_seconds = 24 * 3600;

std::string indexed(const char* field, std::size_t i) {
  return std::string(field) + "[" + std::to_string(i) + "]";
}

// `field` as a list of valid patterns, min_items-128 long; every bad item is named.
std::vector<std::string> read_patterns(validator& v, const json& body, const char* field,
                                       bool required) {
  std::vector<std::string> out;
  const auto it = body.find(field);
  if (it == body.end() || it->is_null()) {
    if (required) v.fail(field, "is required: a list of 1-128 event type patterns");
    return out;
  }
  const std::size_t min_items = required ? 1 : 0;
  if (!it->is_array() || it->size() < min_items || it->size() > domain::max_token_patterns) {
    v.fail(field, "must be a list of " + std::to_string(min_items) + "-128 event type patterns");
    return out;
  }
  for (std::size_t i = 0; i < it->size(); ++i) {
    const auto& p = (*it)[i];
    if (!p.is_string()) {
      v.fail(indexed(field, i), "must be a string");
      continue;
    }
    if (auto e = domain::validate_pattern(p.get<std::string>())) {
      v.fail(indexed(field, i), *e);
      continue;
    }
    out.push_back(p.get<std::string>());
  }
  return out;
}

std::int64_t read_ttl(validator& v, const json& body) {
  const auto it = body.find("ttl");
  if (it == body.end() || it->is_null()) return default_ttl_seconds;
  if (!it->is_number_integer() || it->get<std::int64_t>() < 1 ||
      it->get<std::int64_t>() > max_ttl_seconds) {
    v.fail("ttl", "must be an integer number of seconds, 1-86400");
    return 0;
  }
  return it->get<std::int64_t>();
}

http::response unprocessable(const http::request& req, const std::string& message) {
  return http::error_response(req, 422, "validation_failed", "consumer_id: " + message,
                              {{{"field", "consumer_id"}, {"message", message}}});
}

awaitable<http::response> create_ws_token(api_context& ctx, http::request& req) {
  auto a = co_await project_access(ctx, req, "ws");
  if (!a.ok()) co_return a.error;
  http::response error;
  auto body = parse_object_body(req, error);
  if (!body) co_return error;
  validator v(*body);
  v.only({"user", "patterns", "publish", "ttl", "consumer_id"});
  auto user = v.string("user", true, 1, domain::max_token_user_bytes);
  auto patterns = read_patterns(v, *body, "patterns", true);
  auto publish = read_patterns(v, *body, "publish", false);
  const auto ttl = read_ttl(v, *body);
  auto consumer_id = v.string("consumer_id", false, 1, 64);
  if (consumer_id && !common::is_valid_id("con", *consumer_id)) {
    v.fail("consumer_id", "is not a consumer id");
  }
  if (!v.ok()) co_return v.error(req);

  // A client belongs to one websocket consumer: the one named, or the project's only one.
  if (consumer_id) {
    auto c = co_await ctx.repos.consumers.find(a.project->id, *consumer_id);
    if (!c) co_return unprocessable(req, "no such consumer in this project");
    if (c->kind != "websocket") {
      co_return unprocessable(req, "is a " + c->kind + " consumer; clients attach to websocket consumers");
    }
  } else {
    auto candidates = co_await ctx.repos.consumers.websocket_consumers(a.project->id);
    if (candidates.empty()) {
      co_return unprocessable(req, "is required: the project has no websocket consumer yet");
    }
    if (candidates.size() > 1) {
      co_return unprocessable(req, "is required: the project has " +
                                       std::to_string(candidates.size()) + " websocket consumers");
    }
    consumer_id = candidates.front().id;
  }

  const auto now = std::chrono::time_point_cast<std::chrono::seconds>(common::clock::now());
  domain::client_claims claims;
  claims.user = std::move(*user);
  claims.patterns = std::move(patterns);
  claims.publish = std::move(publish);
  claims.consumer_id = consumer_id;
  claims.issued_at = now.time_since_epoch().count();
  claims.expires_at = claims.issued_at + ttl;
  claims.project_id = a.project->id;
  auto token = domain::mint_client_token(claims, a.project->realtime_secret);
  if (token.size() > domain::max_client_token_bytes) {
    v.fail("patterns", "patterns and publish are too long together for one token");
    co_return v.error(req);
  }
  json out{{"token", std::move(token)},
           {"expires_at", common::format_rfc3339(now + std::chrono::seconds(ttl))},
           {"consumer_id", *consumer_id}};
  auto response = http::json_response(201, out);
  response.headers.emplace_back("Cache-Control", "no-store");  // a credential
  co_return response;
}

awaitable<http::response> presence(api_context& ctx, http::request& req) {
  auto a = co_await project_access(ctx, req, "ws");
  if (!a.ok()) co_return a.error;
  if (!ctx.online_users) co_return http::error_response(req, 503, "unavailable", "presence is off");
  auto users = co_await ctx.online_users(a.project->id);
  if (!users) {
    co_return http::error_response(req, 503, "unavailable", "presence is unavailable (Redis)");
  }
  co_return http::json_response(200, {{"users", *users}, {"count", users->size()}});
}

}  // namespace

void register_realtime_routes(http::router& r, api_context& ctx) {
  r.add("POST", "/v1/projects/{project}/ws-tokens",
        [&ctx](http::request& req) { return create_ws_token(ctx, req); });
  r.add("GET", "/v1/projects/{project}/presence",
        [&ctx](http::request& req) { return presence(ctx, req); });
}

}  // namespace psig::api
