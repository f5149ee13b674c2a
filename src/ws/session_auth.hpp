#pragma once
// Who a WebSocket client is (DESIGN §9): the credential of its `connect` (or `refresh`) — a
// client token signed with the project's realtime secret, or an API key with the `ws` scope —
// checked against PostgreSQL and turned into what the session may do.
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "psig/common/asio.hpp"
#include "psig/storage/models.hpp"
#include "ws/close_codes.hpp"

namespace psig::ws {

class gateway;

struct credentials {
  storage::project project;
  std::string user;
  std::string consumer_id;             // the websocket consumer whose stream the client reads
  std::vector<std::string> subscribe;  // patterns it may subscribe to
  std::vector<std::string> publish;    // patterns it may publish to
  std::int64_t expires_at = 0;         // Unix seconds; 0: never (an API key)
  bool api_key = false;
};

struct auth_failure {
  close_code code;  // bad_token or token_expired
  std::string reason;
};

// Never throws on bad input; `now` is Unix seconds.
awaitable<std::variant<credentials, auth_failure>> authenticate(gateway& g, std::string token,
                                                                std::int64_t now);

}  // namespace psig::ws
