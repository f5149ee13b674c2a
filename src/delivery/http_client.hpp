#pragma once
// The delivery HTTP client (DESIGN §8): Beast + OpenSSL, an SSRF guard applied to the resolved
// addresses at every connect, a keep-alive pool per origin, a total timeout, no redirects, at
// most 16 KiB of the response kept (a gzip body is capped after decompression).
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "psig/common/asio.hpp"
#include "psig/domain/address_class.hpp"

namespace psig::delivery {

inline constexpr std::size_t max_kept_response_bytes = 16 * 1024;

struct http_attempt_request {
  std::string url;  // http:// or https:// (validated by domain::parse_http_url)
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // sent as application/json
  std::chrono::milliseconds timeout{15'000};  // in total: resolve, connect, TLS, write, read
};

struct http_attempt_result {
  std::optional<int> status_code;  // none when no HTTP response was read
  // Empty when a response was read; otherwise one of: "ssrf_blocked", "invalid_url", "dns",
  // "connect", "tls", "timeout", "protocol", "io".
  std::string error_class;
  std::string error;  // human-readable detail
  std::string body;   // at most max_kept_response_bytes (decompressed when gzip)
  bool body_truncated = false;
  std::optional<std::string> retry_after;  // the raw Retry-After header, if any
  std::chrono::milliseconds duration{0};
};

struct http_client_options {
  std::vector<domain::cidr> ssrf_allow;  // addresses allowed although not global
  std::size_t max_idle_per_origin = 8;
  std::chrono::seconds idle_timeout{30};  // pooled connections older than this are closed
  std::string extra_ca_file;              // PEM, trusted in addition to the system store (tests)
  std::string user_agent = "ProjectSignal/1";
};

class http_delivery_client {
 public:
  http_delivery_client(asio::io_context& ioc, http_client_options options);
  ~http_delivery_client();
  http_delivery_client(const http_delivery_client&) = delete;
  http_delivery_client& operator=(const http_delivery_client&) = delete;

  // One POST. Never throws for network or protocol failures: they come back as error_class.
  // Safe to call from many coroutines on any executor of `ioc` at once.
  awaitable<http_attempt_result> post(http_attempt_request req);

  std::size_t idle_connections() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace psig::delivery
