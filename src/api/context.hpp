#pragma once
// What the REST handlers need from the application, and nothing more.
#include <functional>
#include <optional>
#include <vector>
#include <string>

#include <boost/asio/thread_pool.hpp>
#include <nlohmann/json.hpp>

#include "psig/common/asio.hpp"
#include "psig/common/metrics.hpp"
#include "api/auth_cache.hpp"
#include "psig/storage/repositories.hpp"

namespace psig::delivery {
class ingest_batcher;
}

namespace psig::api {

struct rate_decision {
  bool allowed = true;
  int retry_after_seconds = 0;
};

struct api_settings {
  std::string admin_token;
  bool signup_enabled = true;
  int session_ttl_seconds = 7 * 24 * 3600;
  int password_iterations = 210'000;
};

// One dependency check for /readyz: "ok", or a short reason.
struct health_check {
  std::string name;
  bool required;  // false: reported as degraded, the node stays ready
  std::function<awaitable<std::string>()> probe;
};

struct api_context {
  api_settings settings;
  storage::repositories& repos;
  asio::thread_pool& blocking;  // password hashing and blocking client calls
  common::metrics_registry& metrics;
  std::vector<health_check> health;
  delivery::ingest_batcher* ingest = nullptr;
  // A project's keys, settings, consumers or subscriptions changed: drop what is cached of it
  // (routes, credentials) on every node.
  std::function<void(const std::string& project_id)> project_changed = [](const std::string&) {};
  // API keys and projects read recently (none: every request reads PostgreSQL).
  auth_cache* credentials = nullptr;
  // New outbox rows are due now (a manual retry): let the relay look at once.
  std::function<void()> wake_relay = [] {};
  // The distinct users online in a project (nullopt: presence unavailable).
  std::function<awaitable<std::optional<std::vector<std::string>>>(const std::string& project)>
      online_users;
  // Answers whether a project may ingest n more events now (token bucket; fails open).
  std::function<awaitable<rate_decision>(const storage::project&, std::size_t n)> admit;
};

}  // namespace psig::api
