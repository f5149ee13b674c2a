#include "api/routes.hpp"

namespace psig::api {

void register_routes(http::router& r, api_context& ctx) {
  register_ops_routes(r, ctx);
  register_auth_routes(r, ctx);
  register_project_routes(r, ctx);
  register_key_routes(r, ctx);
  register_consumer_routes(r, ctx);
  register_subscription_routes(r, ctx);
  register_event_routes(r, ctx);
  register_delivery_routes(r, ctx);
  register_realtime_routes(r, ctx);
}

}  // namespace psig::api
