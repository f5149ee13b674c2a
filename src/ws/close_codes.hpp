#pragma once
// WebSocket close codes of DESIGN §9: 4000-4499 reconnect, 4500+ do not.
#include <cstdint>

namespace psig::ws {

enum close_code : std::uint16_t {
  shutdown = 4001,
  token_expired = 4005,
  slow_consumer = 4008,
  no_pong = 4012,
  bad_token = 4501,
  bad_request = 4502,
  connection_limit = 4503,
  forbidden = 4504,
};

}  // namespace psig::ws
