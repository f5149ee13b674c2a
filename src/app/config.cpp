#include "app/config.hpp"

#include <charconv>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>

#include <boost/asio/ip/address.hpp>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "cache/redis_client.hpp"

namespace psig::app {
namespace {

using json = nlohmann::json;
using error = std::optional<std::string>;

enum class kind { string, integer, boolean, string_list, integer_list };

struct option {
  config_key key;
  kind type;
  std::function<error(config&, const json&)> apply;
};

error int_in(const json& v, long long lo, long long hi, long long& out) {
  if (!v.is_number_integer()) return "expected an integer";
  out = v.get<long long>();
  if (out < lo || out > hi) return "must be between " + std::to_string(lo) + " and " + std::to_string(hi);
  return std::nullopt;
}

error one_of(const std::string& v, std::initializer_list<const char*> allowed) {
  std::string list;
  for (const char* a : allowed) {
    if (v == a) return std::nullopt;
    list += (list.empty() ? "" : ", ") + std::string(a);
  }
  return "must be one of " + list;
}

error check_cidr(const std::string& cidr) {
  const auto slash = cidr.find('/');
  boost::system::error_code ec;
  const auto addr = boost::asio::ip::make_address(cidr.substr(0, slash), ec);
  if (ec) return "'" + cidr + "' is not an address or CIDR";
  if (slash == std::string::npos) return std::nullopt;
  int bits = -1;
  const auto tail = std::string_view(cidr).substr(slash + 1);
  const auto [p, e] = std::from_chars(tail.data(), tail.data() + tail.size(), bits);
  if (e != std::errc{} || p != tail.data() + tail.size() || bits < 0 || bits > (addr.is_v4() ? 32 : 128)) {
    return "'" + cidr + "' has a bad prefix length";
  }
  return std::nullopt;
}

option string_opt(const char* key, const char* env, const char* desc,
                  std::function<error(config&, const std::string&)> set) {
  return {{key, env, desc}, kind::string, [set](config& c, const json& v) -> error {
            if (!v.is_string()) return "expected a string";
            return set(c, v.get<std::string>());
          }};
}

option int_opt(const char* key, const char* env, const char* desc, long long lo, long long hi,
               std::function<void(config&, long long)> set) {
  return {{key, env, desc}, kind::integer, [=](config& c, const json& v) -> error {
            long long n = 0;
            if (auto e = int_in(v, lo, hi, n)) return e;
            set(c, n);
            return std::nullopt;
          }};
}

const std::vector<option>& options() {
  static const std::vector<option> all{
      string_opt("listen", "PSIG_LISTEN", "host:port the HTTP server binds (IPv6 as [::1]:8080)",
                 [](config& c, const std::string& v) -> error {
                   const auto colon = v.rfind(':');
                   if (colon == std::string::npos || colon == 0) return "expected host:port";
                   std::string host = v.substr(0, colon);
                   if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
                     host = host.substr(1, host.size() - 2);
                   }
                   boost::system::error_code ec;
                   boost::asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
                   if (ec) return "'" + host + "' is not an IP address";
                   unsigned port = 0;
                   const auto tail = std::string_view(v).substr(colon + 1);
                   const auto [p, e] = std::from_chars(tail.data(), tail.data() + tail.size(), port);
                   if (e != std::errc{} || p != tail.data() + tail.size() || port > 65535) {
                     return "'" + std::string(tail) + "' is not a port";
                   }
                   c.listen_host = host == "localhost" ? "127.0.0.1" : host;
                   c.listen_port = static_cast<std::uint16_t>(port);
                   return std::nullopt;
                 }),
      string_opt("database_url", "PSIG_DATABASE_URL", "PostgreSQL connection URL (required)",
                 [](config& c, const std::string& v) -> error {
                   if (v.rfind("postgres://", 0) != 0 && v.rfind("postgresql://", 0) != 0) {
                     return "expected a postgresql:// URL";
                   }
                   c.database_url = v;
                   return std::nullopt;
                 }),
      int_opt("database_pool_size", "PSIG_DATABASE_POOL_SIZE",
              "PostgreSQL connections, one thread each", 1, 256,
              [](config& c, long long n) { c.database_pool_size = static_cast<int>(n); }),
      string_opt("nats_url", "PSIG_NATS_URL", "NATS server URL (JetStream enabled)",
                 [](config& c, const std::string& v) -> error {
                   if (v.rfind("nats://", 0) != 0 && v.rfind("tls://", 0) != 0) {
                     return "expected a nats:// or tls:// URL";
                   }
                   c.nats_url = v;
                   return std::nullopt;
                 }),
      string_opt("nats_namespace", "PSIG_NATS_NAMESPACE",
                 "prefix of the NATS streams, subjects and consumer (deployments sharing a NATS "
                 "server need different ones)",
                 [](config& c, const std::string& v) -> error {
                   if (v.empty() || v.size() > 32) return "must be 1-32 characters";
                   for (char ch : v) {
                     if (!std::islower(static_cast<unsigned char>(ch)) &&
                         !std::isdigit(static_cast<unsigned char>(ch)) && ch != '_') {
                       return "may only hold a-z, 0-9 and '_'";
                     }
                   }
                   c.nats_namespace = v;
                   return std::nullopt;
                 }),
      string_opt("redis_url", "PSIG_REDIS_URL", "Redis URL",
                 [](config& c, const std::string& v) -> error {
                   if (!cache::parse_redis_url(v)) return "expected redis://[:password@]host[:port][/db]";
                   c.redis_url = v;
                   return std::nullopt;
                 }),
      string_opt("admin_token", "PSIG_ADMIN_TOKEN",
                 "bootstrap admin bearer token, may do everything (at least 16 characters)",
                 [](config& c, const std::string& v) -> error {
                   if (!v.empty() && v.size() < 16) return "must be at least 16 characters";
                   c.admin_token = v;
                   return std::nullopt;
                 }),
      string_opt("node_id", "PSIG_NODE_ID", "this node's name in logs and attempts (default: host name)",
                 [](config& c, const std::string& v) -> error {
                   if (v.empty() || v.size() > 64) return "must be 1-64 characters";
                   for (char ch : v) {
                     if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' && ch != '.') {
                       return "may only hold letters, digits, '-', '_' and '.'";
                     }
                   }
                   c.node_id = v;
                   return std::nullopt;
                 }),
      string_opt("log_format", "PSIG_LOG_FORMAT", "text or json",
                 [](config& c, const std::string& v) -> error {
                   if (auto e = one_of(v, {"text", "json"})) return e;
                   c.log_format = v;
                   return std::nullopt;
                 }),
      string_opt("log_level", "PSIG_LOG_LEVEL", "trace, debug, info, warn, error or critical",
                 [](config& c, const std::string& v) -> error {
                   if (auto e = one_of(v, {"trace", "debug", "info", "warn", "error", "critical"})) return e;
                   c.log_level = v;
                   return std::nullopt;
                 }),
      int_opt("io_threads", "PSIG_IO_THREADS", "threads running the I/O context", 1, 64,
              [](config& c, long long n) { c.io_threads = static_cast<int>(n); }),
      {{"signup_enabled", "PSIG_SIGNUP_ENABLED", "whether POST /v1/auth/signup is open"},
       kind::boolean,
       [](config& c, const json& v) -> error {
         if (!v.is_boolean()) return "expected true or false";
         c.signup_enabled = v.get<bool>();
         return std::nullopt;
       }},
      int_opt("session_ttl_seconds", "PSIG_SESSION_TTL_SECONDS", "lifetime of login tokens", 60,
              365LL * 24 * 3600, [](config& c, long long n) { c.session_ttl_seconds = static_cast<int>(n); }),
      int_opt("http_max_header_bytes", "PSIG_HTTP_MAX_HEADER_BYTES",
              "largest request header block (431 beyond)", 1024, 1 << 20,
              [](config& c, long long n) { c.http_max_header_bytes = static_cast<std::size_t>(n); }),
      int_opt("http_max_body_bytes", "PSIG_HTTP_MAX_BODY_BYTES", "largest request body (413 beyond)",
              1024, 64LL << 20,
              [](config& c, long long n) { c.http_max_body_bytes = static_cast<std::size_t>(n); }),
      int_opt("http_read_timeout_ms", "PSIG_HTTP_READ_TIMEOUT_MS",
              "time to receive one request once it started", 100, 600'000,
              [](config& c, long long n) { c.http_read_timeout = std::chrono::milliseconds(n); }),
      int_opt("http_idle_timeout_ms", "PSIG_HTTP_IDLE_TIMEOUT_MS",
              "how long a kept-alive connection may wait for its next request", 100, 3'600'000,
              [](config& c, long long n) { c.http_idle_timeout = std::chrono::milliseconds(n); }),
      int_opt("shutdown_grace_ms", "PSIG_SHUTDOWN_GRACE_MS",
              "how long SIGTERM waits for in-flight work", 0, 600'000,
              [](config& c, long long n) { c.shutdown_grace = std::chrono::milliseconds(n); }),
      int_opt("delivery_concurrency", "PSIG_DELIVERY_CONCURRENCY",
              "delivery attempts running at once on this node", 1, 10'000,
              [](config& c, long long n) { c.delivery_concurrency = static_cast<int>(n); }),
      int_opt("consumer_disable_after_hours", "PSIG_CONSUMER_DISABLE_AFTER_HOURS",
              "a consumer failing without a success this long is disabled", 1, 24 * 365,
              [](config& c, long long n) { c.consumer_disable_after_hours = static_cast<int>(n); }),
      int_opt("ingest_rate_per_second", "PSIG_INGEST_RATE_PER_SECOND",
              "default per-project ingest rate (project settings override it)", 1, 10'000'000,
              [](config& c, long long n) { c.ingest_rate_per_second = static_cast<int>(n); }),
      int_opt("ingest_burst", "PSIG_INGEST_BURST",
              "default per-project ingest burst (project settings override it)", 1, 100'000'000,
              [](config& c, long long n) { c.ingest_burst = static_cast<int>(n); }),
      int_opt("relay_poll_ms", "PSIG_RELAY_POLL_MS",
              "how often the relay looks for due outbox rows when not woken", 10, 60'000,
              [](config& c, long long n) { c.relay_poll = std::chrono::milliseconds(n); }),
      int_opt("delivery_lease_seconds", "PSIG_DELIVERY_LEASE_SECONDS",
              "how long a published delivery may stay in flight with no attempt before it is published again",
              5, 86'400, [](config& c, long long n) { c.delivery_lease_seconds = static_cast<int>(n); }),
      // Below JetStream's duplicate window (120 s): the relay's publish of a row the hand-off
      // published too is then stored once.
      int_opt("handoff_grace_seconds", "PSIG_HANDOFF_GRACE_SECONDS",
              "how long a delivery handed off after its commit waits before the relay publishes it "
              "(a crash between commit and publish)",
              1, 60, [](config& c, long long n) { c.handoff_grace_seconds = static_cast<int>(n); }),
      int_opt("jetstream_ack_wait_seconds", "PSIG_JETSTREAM_ACK_WAIT_SECONDS",
              "JetStream redelivers a message not acknowledged within this", 5, 3600,
              [](config& c, long long n) { c.jetstream_ack_wait_seconds = static_cast<int>(n); }),
      int_opt("retention_sweep_seconds", "PSIG_RETENTION_SWEEP_SECONDS",
              "how often events older than their project's retention_days are deleted", 1, 86'400,
              [](config& c, long long n) { c.retention_sweep_seconds = static_cast<int>(n); }),
      int_opt("ws_max_connections_per_project", "PSIG_WS_MAX_CONNECTIONS_PER_PROJECT",
              "default cap on a project's WebSocket sessions across all nodes (settings.max_ws_connections "
              "overrides it)",
              1, 10'000'000, [](config& c, long long n) { c.ws_max_connections_per_project = static_cast<int>(n); }),
      int_opt("ws_ping_seconds", "PSIG_WS_PING_SECONDS",
              "how often a WebSocket session is pinged; one unanswered ping closes it (4012)", 1, 60,
              [](config& c, long long n) { c.ws_ping_seconds = static_cast<int>(n); }),
      int_opt("ws_send_buffer_bytes", "PSIG_WS_SEND_BUFFER_BYTES",
              "the kernel send buffer of each WebSocket socket (SO_SNDBUF); 0 leaves it to the kernel",
              0, 16 * 1024 * 1024, [](config& c, long long n) { c.ws_send_buffer_bytes = static_cast<int>(n); }),
      {{"ssrf_allow", "PSIG_SSRF_ALLOW",
        "CIDRs the delivery client may reach despite the SSRF guard (comma-separated in the variable)"},
       kind::string_list,
       [](config& c, const json& v) -> error {
         if (!v.is_array()) return "expected a list of CIDRs";
         std::vector<std::string> out;
         for (const auto& item : v) {
           if (!item.is_string()) return "expected a list of CIDRs";
           if (auto e = check_cidr(item.get<std::string>())) return e;
           out.push_back(item.get<std::string>());
         }
         c.ssrf_allow = std::move(out);
         return std::nullopt;
       }},
      {{"retry_schedule", "PSIG_RETRY_SCHEDULE",
        "default delays in seconds after each failed attempt (comma-separated in the variable)"},
       kind::integer_list,
       [](config& c, const json& v) -> error {
         if (!v.is_array() || v.empty() || v.size() > 50) return "expected 1-50 delays in seconds";
         std::vector<int> out;
         for (const auto& item : v) {
           long long n = 0;
           if (auto e = int_in(item, 0, 30LL * 24 * 3600, n)) return "each delay " + *e;
           out.push_back(static_cast<int>(n));
         }
         c.retry_schedule = std::move(out);
         return std::nullopt;
       }},
  };
  return all;
}

// Environment values are text: turn them into the JSON the file would hold.
std::optional<json> from_env(kind type, const std::string& text) {
  auto split = [&] {
    std::vector<std::string> parts;
    std::stringstream ss(text);
    std::string part;
    while (std::getline(ss, part, ',')) {
      const auto b = part.find_first_not_of(' ');
      const auto e = part.find_last_not_of(' ');
      if (b != std::string::npos) parts.push_back(part.substr(b, e - b + 1));
    }
    return parts;
  };
  auto to_int = [](const std::string& s) -> std::optional<json> {
    long long n = 0;
    const auto [p, e] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (e != std::errc{} || p != s.data() + s.size() || s.empty()) return std::nullopt;
    return json(n);
  };
  switch (type) {
    case kind::string: return json(text);
    case kind::integer: return to_int(text);
    case kind::boolean:
      if (text == "true" || text == "1") return json(true);
      if (text == "false" || text == "0") return json(false);
      return std::nullopt;
    case kind::string_list: return json(split());
    case kind::integer_list: {
      json out = json::array();
      for (const auto& p : split()) {
        auto n = to_int(p);
        if (!n) return std::nullopt;
        out.push_back(*n);
      }
      return out;
    }
  }
  return std::nullopt;
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "node";
  std::string out;
  for (char ch : std::string(buf)) {
    if (std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.') out += ch;
  }
  return out.empty() ? "node" : out.substr(0, 64);
}

}  // namespace

std::variant<config, std::string> load_config(const env_lookup& env) {
  config c;
  c.node_id = host_name();
  if (const char* path = env("PSIG_CONFIG"); path != nullptr && *path != '\0') {
    std::ifstream in(path);
    if (!in) return std::string("PSIG_CONFIG: cannot read ") + path;
    json file = json::parse(in, nullptr, false);
    if (file.is_discarded()) return std::string("PSIG_CONFIG: ") + path + " is not valid JSON";
    if (!file.is_object()) return std::string("PSIG_CONFIG: ") + path + " must hold a JSON object";
    for (const auto& [key, value] : file.items()) {
      const option* found = nullptr;
      for (const auto& o : options()) {
        if (key == o.key.json_key) found = &o;
      }
      if (found == nullptr) return "config key '" + key + "': unknown key";
      if (auto e = found->apply(c, value)) return "config key '" + key + "': " + *e;
    }
  }
  for (const auto& o : options()) {
    const char* raw = env(o.key.env_name);
    if (raw == nullptr) continue;
    const auto value = from_env(o.type, raw);
    if (!value) return std::string(o.key.env_name) + ": cannot parse '" + raw + "'";
    if (auto e = o.apply(c, *value)) return std::string(o.key.env_name) + ": " + *e;
  }
  if (c.database_url.empty()) return "PSIG_DATABASE_URL: is required (or database_url in the config file)";
  return c;
}

const std::vector<config_key>& config_keys() {
  static const std::vector<config_key> keys = [] {
    std::vector<config_key> out;
    for (const auto& o : options()) out.push_back(o.key);
    return out;
  }();
  return keys;
}

}  // namespace psig::app
