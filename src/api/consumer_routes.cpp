// /v1/projects/{project}/consumers: webhook, push, email and websocket targets.
#include "api/access.hpp"
#include "api/routes.hpp"
#include "api/validation.hpp"
#include "psig/common/ids.hpp"
#include "psig/domain/body_template.hpp"
#include "psig/domain/credentials.hpp"
#include "psig/domain/url.hpp"

namespace psig::api {
namespace {

using nlohmann::json;

constexpr int rotation_overlap_seconds = 24 * 3600;

bool is_kind(const std::string& k) {
  return k == "webhook" || k == "push" || k == "email" || k == "websocket";
}

bool header_name_ok(const std::string& name) {
  if (name.empty() || name.size() > 256) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// Headers that the delivery client owns: a consumer may not override framing or signatures.
bool header_reserved(std::string name) {
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* r : {"host", "content-length", "transfer-encoding", "connection", "upgrade",
                        "te", "trailer", "keep-alive", "expect", "webhook-id", "webhook-timestamp",
                        "webhook-signature"}) {
    if (name == r) return true;
  }
  return false;
}

void check_headers(validator& v, const json& headers) {
  if (!headers.is_object() || headers.size() > 32) {
    v.fail("headers", "must be an object of at most 32 string values");
    return;
  }
  for (const auto& [name, value] : headers.items()) {
    const auto field = "headers." + name;
    if (!header_name_ok(name)) v.fail(field, "is not a valid header name");
    else if (header_reserved(name)) v.fail(field, "is set by ProjectSignal and cannot be overridden");
    else if (!value.is_string() || value.get<std::string>().size() > 4096 ||
             value.get<std::string>().find_first_of(std::string("\r\n\0", 3)) != std::string::npos) {
      v.fail(field, "must be a string of at most 4096 bytes without line breaks");
    }
  }
}

void check_settings(validator& v, const json& settings) {
  if (!settings.is_object()) {
    v.fail("settings", "must be an object");
    return;
  }
  auto int_range = [&](const std::string& key, const json& value, long long lo, long long hi) {
    if (!value.is_number_integer() || value.get<long long>() < lo || value.get<long long>() > hi) {
      v.fail("settings." + key, "must be an integer " + std::to_string(lo) + "-" + std::to_string(hi));
    }
  };
  for (const auto& [key, value] : settings.items()) {
    if (key == "retry_schedule") {
      if (!value.is_array() || value.empty() || value.size() > 50) {
        v.fail("settings.retry_schedule", "must be a list of 1-50 delays in seconds");
        continue;
      }
      for (const auto& d : value) int_range(key, d, 0, 30LL * 24 * 3600);
    } else if (key == "max_in_flight") {
      int_range(key, value, 1, 1000);
    } else if (key == "rate_limit_per_second") {
      int_range(key, value, 0, 100'000);
    } else if (key == "timeout_ms") {
      int_range(key, value, 100, 60'000);
    } else if (key == "fifo") {
      if (!value.is_boolean()) v.fail("settings.fifo", "must be true or false");
    } else {
      v.fail("settings." + key, "unknown setting");
    }
  }
}

// Reads the request into `c` (create: fresh, update: the stored consumer), then checks that
// the result makes sense for its kind.
void read_consumer(validator& v, const json& body, storage::consumer& c, bool creating) {
  v.only({"name", "kind", "url", "headers", "template", "settings"});
  if (auto name = v.string("name", creating, 1, 200)) c.name = *name;
  if (auto kind = v.string("kind", creating, 1, 32)) {
    if (!is_kind(*kind)) v.fail("kind", "must be one of webhook, push, email, websocket");
    else if (!creating && *kind != c.kind) v.fail("kind", "cannot be changed");
    else c.kind = *kind;
  }
  if (body.contains("url")) {
    if (body["url"].is_null()) {
      c.url.reset();
    } else if (auto url = v.string("url", false, 1, 2048)) {
      auto parsed = domain::parse_http_url(*url);
      if (auto* reason = std::get_if<std::string>(&parsed)) v.fail("url", *reason);
      else c.url = *url;
    }
  }
  if (body.contains("headers")) {
    if (body["headers"].is_null()) c.headers = json::object();
    else {
      check_headers(v, body["headers"]);
      c.headers = body["headers"];
    }
  }
  if (body.contains("template")) {
    c.body_template = body["template"];
    if (!c.body_template.is_null()) {
      if (auto e = domain::validate_template(c.body_template)) v.fail("template", *e);
    }
  }
  if (body.contains("settings")) {
    check_settings(v, body["settings"]);
    c.settings = body["settings"];
  }
  if (!v.ok() || c.kind.empty()) return;
  const bool http_target = c.kind != "websocket";
  if (http_target && !c.url) v.fail("url", "is required for " + c.kind + " consumers");
  if (!http_target && c.url) v.fail("url", "websocket consumers have no url");
  if (!http_target && !c.headers.empty()) v.fail("headers", "websocket consumers have no headers");
  const bool templated = c.kind == "push" || c.kind == "email";
  if (templated && c.body_template.is_null()) {
    v.fail("template", "is required for " + c.kind + " consumers");
  }
  if (!templated && !c.body_template.is_null()) {
    v.fail("template", "only push and email consumers have a template");
  }
}

json consumer_json(const storage::consumer& c, bool with_secret) {
  json j{{"id", c.id},
         {"name", c.name},
         {"kind", c.kind},
         {"url", c.url ? json(*c.url) : json()},
         {"headers", c.headers},
         {"template", c.body_template},
         {"settings", c.settings},
         {"status", c.status},
         {"disabled_reason", c.disabled_reason ? json(*c.disabled_reason) : json()},
         {"created_at", c.created_at},
         {"updated_at", c.updated_at}};
  if (with_secret) {
    j["secret"] = c.secret;
    if (c.previous_secret_expires_at) j["previous_secret_expires_at"] = *c.previous_secret_expires_at;
  }
  return j;
}

bool consumer_id_ok(const http::request& req) {
  return common::is_valid_id("con", req.param("consumer"));
}

awaitable<http::response> create_consumer(api_context& ctx, http::request& req) {
  auto a = co_await project_access(ctx, req, "manage");
  if (!a.ok()) co_return a.error;
  http::response error;
  auto body = parse_object_body(req, error);
  if (!body) co_return error;
  validator v(*body);
  storage::consumer c;
  read_consumer(v, *body, c, true);
  if (!v.ok()) co_return v.error(req);
  c.id = common::new_id("con");
  c.project_id = a.project->id;
  c.secret = domain::generate_webhook_secret();
  auto created = co_await ctx.repos.consumers.create(std::move(c));
  ctx.project_changed(a.project->id);
  co_return http::json_response(201, consumer_json(created, true));
}

awaitable<http::response> list_consumers(api_context& ctx, http::request& req) {
  auto a = co_await project_access(ctx, req, "manage");
  if (!a.ok()) co_return a.error;
  http::response error;
  auto page = page_params(req, "con", error);
  if (!page) co_return error;
  auto result = co_await ctx.repos.consumers.list(a.project->id, *page);
  co_return http::json_response(
      200, page_json(result, [](const storage::consumer& c) { return consumer_json(c, false); }));
}

awaitable<http::response> get_consumer(api_context& ctx, http::request& req) {
  auto a = co_await project_access(ctx, req, "manage");
  if (!a.ok()) co_return a.error;
  if (!consumer_id_ok(req)) co_return not_found(req, "consumer");
  auto c = co_await ctx.repos.consumers.find(a.project->id, req.param("consumer"));
  if (!c) co_return not_found(req, "consumer");
  co_return http::json_response(200, consumer_json(*c, true));
}

awaitable<http::response> update_consumer(api_context& ctx, http::request& req) {
  auto a = co_await project_access(ctx, req, "manage");
  if (!a.ok()) co_return a.error;
  if (!consumer_id_ok(req)) co_return not_found(req, "consumer");
  http::response error;
  auto body = parse_object_body(req, error);
  if (!body) co_return error;
  auto c = co_await ctx.repos.consumers.find(a.project->id, req.param("consumer"));
  if (!c) co_return not_found(req, "consumer");
  validator v(*body);
  read_consumer(v, *body, *c, false);
  if (!v.ok()) co_return v.error(req);
  auto updated = co_await ctx.repos.consumers.update(std::move(*c));
  if (!updated) co_return not_found(req, "consumer");
  ctx.project_changed(a.project->id);
  co_return http::json_response(200, consumer_json(*updated, true));
}

awaitable<http::response> delete_consumer(api_context& ctx, http::request& req) {
  auto a = co_await project_access(ctx, req, "manage");
  if (!a.ok()) co_return a.error;
  if (!consumer_id_ok(req) || !co_await ctx.repos.consumers.remove(a.project->id, req.param("consumer"))) {
    co_return not_found(req, "consumer");
  }
  ctx.project_changed(a.project->id);
  co_return http::empty_response(204);
}

awaitable<http::response> rotate_secret(api_context& ctx, http::request& req) {
  auto a = co_await project_access(ctx, req, "manage");
  if (!a.ok()) co_return a.error;
  if (!consumer_id_ok(req)) co_return not_found(req, "consumer");
  auto c = co_await ctx.repos.consumers.rotate_secret(a.project->id, req.param("consumer"),
                                                      domain::generate_webhook_secret(),
                                                      rotation_overlap_seconds);
  if (!c) co_return not_found(req, "consumer");
  co_return http::json_response(200, consumer_json(*c, true));
}

awaitable<http::response> set_status(api_context& ctx, http::request& req, bool enable) {
  auto a = co_await project_access(ctx, req, "manage");
  if (!a.ok()) co_return a.error;
  if (!consumer_id_ok(req)) co_return not_found(req, "consumer");
  std::optional<std::string> reason;
  if (!enable) reason = "disabled by an operator";
  auto c = co_await ctx.repos.consumers.set_status(a.project->id, req.param("consumer"),
                                                   enable ? "enabled" : "disabled", reason);
  if (!c) co_return not_found(req, "consumer");
  ctx.project_changed(a.project->id);
  co_return http::json_response(200, consumer_json(*c, false));
}

}  // namespace

void register_consumer_routes(http::router& r, api_context& ctx) {
  const std::string base = "/v1/projects/{project}/consumers";
  const std::string one = base + "/{consumer}";
  r.add("POST", base, [&ctx](http::request& req) { return create_consumer(ctx, req); });
  r.add("GET", base, [&ctx](http::request& req) { return list_consumers(ctx, req); });
  r.add("GET", one, [&ctx](http::request& req) { return get_consumer(ctx, req); });
  r.add("PATCH", one, [&ctx](http::request& req) { return update_consumer(ctx, req); });
  r.add("DELETE", one, [&ctx](http::request& req) { return delete_consumer(ctx, req); });
  r.add("POST", one + "/rotate-secret", [&ctx](http::request& req) { return rotate_secret(ctx, req); });
  r.add("POST", one + "/enable", [&ctx](http::request& req) { return set_status(ctx, req, true); });
  r.add("POST", one + "/disable", [&ctx](http::request& req) { return set_status(ctx, req, false); });
}

}  // namespace psig::api
