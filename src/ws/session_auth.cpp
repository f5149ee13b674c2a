#include "ws/session_auth.hpp"

#include <algorithm>
#include <optional>

#include "psig/common/crypto.hpp"
#include "psig/common/ids.hpp"
#include "psig/domain/client_token.hpp"
#include "psig/domain/credentials.hpp"
#include "ws/gateway.hpp"

namespace psig::ws {
namespace {

bool has_scope(const storage::api_key& key, const char* scope) {
  return std::find(key.scopes.begin(), key.scopes.end(), scope) != key.scopes.end();
}

// An API key with the ws scope: every pattern, publishing only with events:write too (a ws-only
// key must not become a way to write events).
awaitable<std::variant<credentials, auth_failure>> from_api_key(gateway& g, std::string token) {
  const auto prefix = domain::api_key_prefix(token);
  std::optional<storage::api_key> key;
  if (prefix) key = co_await g.repos().keys.find_active_by_prefix(*prefix);
  if (!key || !common::constant_time_equal(domain::hash_api_key(token), key->key_hash) ||
      !has_scope(*key, "ws")) {
    co_return auth_failure{close_code::bad_token, "invalid API key"};
  }
  auto project = co_await g.repos().projects.find(key->project_id);
  if (!project) co_return auth_failure{close_code::bad_token, "invalid API key"};
  credentials c;
  c.project = std::move(*project);
  c.user = "key:" + key->id;
  c.subscribe = {">"};
  if (has_scope(*key, "events:write")) c.publish = {">"};
  c.api_key = true;
  co_return c;
}

awaitable<std::variant<credentials, auth_failure>> from_client_token(gateway& g, std::string token,
                                                                     std::int64_t now) {
  const auto claimed_project = domain::token_project(token);
  std::optional<storage::project> project;
  if (claimed_project && common::is_valid_id("prj", *claimed_project)) {
    project = co_await g.repos().projects.find(*claimed_project);
  }
  if (!project) co_return auth_failure{close_code::bad_token, "invalid token"};
  auto verified = domain::verify_client_token(token, project->realtime_secret, now);
  if (auto* err = std::get_if<domain::token_error>(&verified)) {
    if (*err == domain::token_error::expired) co_return auth_failure{close_code::token_expired, "token expired"};
    co_return auth_failure{close_code::bad_token, "invalid token"};
  }
  auto& claims = std::get<domain::client_claims>(verified);
  credentials c;
  c.project = std::move(*project);
  c.user = std::move(claims.user);
  c.subscribe = std::move(claims.patterns);
  c.publish = std::move(claims.publish);
  c.expires_at = claims.expires_at;
  if (claims.consumer_id) c.consumer_id = *claims.consumer_id;
  co_return c;
}

}  // namespace

awaitable<std::variant<credentials, auth_failure>> authenticate(gateway& g, std::string token,
                                                                std::int64_t now) {
  std::variant<credentials, auth_failure> result;
  if (token.rfind("psk_", 0) == 0) {
    result = co_await from_api_key(g, std::move(token));
  } else {
    result = co_await from_client_token(g, std::move(token), now);
  }
  auto* c = std::get_if<credentials>(&result);
  if (c != nullptr && c->consumer_id.empty()) {
    // No consumer named: the project's only websocket consumer.
    auto all = co_await g.repos().consumers.websocket_consumers(c->project.id);
    if (all.size() != 1) {
      co_return auth_failure{close_code::bad_token, "the project needs exactly one websocket consumer"};
    }
    c->consumer_id = all.front().id;
  }
  co_return result;
}

}  // namespace psig::ws
