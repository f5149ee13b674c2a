#pragma once
// Configuration: defaults, then a JSON file (PSIG_CONFIG), then PSIG_* environment variables.
// Unknown keys are rejected; every problem is one line naming the key or variable.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

namespace psig::app {

struct config {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 8080;
  std::string database_url;
  int database_pool_size = 4;
  std::string nats_url = "nats://127.0.0.1:4222";
  std::string nats_namespace = "psig";  // prefix of every stream, subject and consumer name
  std::string redis_url = "redis://127.0.0.1:6379";
  std::string admin_token;  // empty: no bootstrap admin
  std::string node_id;
  std::string log_format = "text";
  std::string log_level = "info";
  int io_threads = 2;
  bool signup_enabled = true;
  int session_ttl_seconds = 7 * 24 * 3600;
  std::size_t http_max_header_bytes = 16 * 1024;
  std::size_t http_max_body_bytes = 1024 * 1024;
  std::chrono::milliseconds http_read_timeout{30'000};
  std::chrono::milliseconds http_idle_timeout{60'000};
  std::chrono::milliseconds shutdown_grace{10'000};
  std::vector<std::string> ssrf_allow;      // CIDRs the delivery client may reach anyway
  std::vector<int> retry_schedule{5, 300, 1800, 7200, 18000, 36000, 36000};  // seconds
  int delivery_concurrency = 256;
  int consumer_disable_after_hours = 120;
  int ingest_rate_per_second = 10'000;  // per project, unless its settings say otherwise
  int ingest_burst = 20'000;
  std::chrono::milliseconds relay_poll{250};
  int delivery_lease_seconds = 300;
  int handoff_grace_seconds = 10;
  int jetstream_ack_wait_seconds = 120;
  int retention_sweep_seconds = 60;
  int ws_max_connections_per_project = 10'000;  // on all nodes, unless the project's settings say
  int ws_ping_seconds = 25;
  int ws_send_buffer_bytes = 0;  // SO_SNDBUF of WebSocket sockets; 0: the kernel's autotuning
};

using env_lookup = std::function<const char*(const char*)>;

// The config, or one line such as "PSIG_LISTEN: expected host:port".
std::variant<config, std::string> load_config(const env_lookup& env);

// For docs and check-config: every key with its variable.
struct config_key {
  const char* json_key;
  const char* env_name;
  const char* description;
};
const std::vector<config_key>& config_keys();

}  // namespace psig::app
