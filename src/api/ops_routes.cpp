// GET /healthz (alive), /readyz (dependencies), /metrics (Prometheus text).
#include "api/routes.hpp"

namespace psig::api {
namespace {

awaitable<http::response> readyz(api_context& ctx) {
  nlohmann::json checks = nlohmann::json::object();
  bool ready = true, degraded = false;
  for (const auto& check : ctx.health) {
    std::string result;
    try {
      result = co_await check.probe();
    } catch (const std::exception& e) {
      result = e.what();
    }
    checks[check.name] = result;
    if (result == "ok") continue;
    if (check.required) ready = false;
    else degraded = true;
  }
  const char* status = !ready ? "unavailable" : degraded ? "degraded" : "ready";
  co_return http::json_response(ready ? 200 : 503, {{"status", status}, {"checks", checks}});
}

}  // namespace

void register_ops_routes(http::router& r, api_context& ctx) {
  r.add("GET", "/healthz", [](http::request&) -> awaitable<http::response> {
    co_return http::json_response(200, {{"status", "alive"}});
  });
  r.add("GET", "/readyz", [&ctx](http::request&) { return readyz(ctx); });
  r.add("GET", "/metrics", [&ctx](http::request&) -> awaitable<http::response> {
    co_return http::response{200, ctx.metrics.render(), "text/plain; version=0.0.4", {}};
  });
}

}  // namespace psig::api
