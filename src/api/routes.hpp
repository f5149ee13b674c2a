#pragma once
#include "api/context.hpp"
#include "psig/http/router.hpp"

namespace psig::api {

// Every REST route of DESIGN §7 implemented so far. `ctx` must outlive the router.
void register_routes(http::router& r, api_context& ctx);

// One per resource file.
void register_auth_routes(http::router& r, api_context& ctx);
void register_project_routes(http::router& r, api_context& ctx);
void register_key_routes(http::router& r, api_context& ctx);
void register_consumer_routes(http::router& r, api_context& ctx);
void register_subscription_routes(http::router& r, api_context& ctx);
void register_ops_routes(http::router& r, api_context& ctx);
void register_event_routes(http::router& r, api_context& ctx);
void register_delivery_routes(http::router& r, api_context& ctx);
void register_realtime_routes(http::router& r, api_context& ctx);

}  // namespace psig::api
