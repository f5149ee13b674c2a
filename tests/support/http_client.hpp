#pragma once
// A small blocking HTTP/1.1 client for tests, on one kept-alive connection to 127.0.0.1.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace psig::test {

struct http_reply {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;

  nlohmann::json json() const;  // parses body; fails the test (throws) when it is not JSON
  std::optional<std::string> header(const std::string& lower_name) const;
};

class http_client {
 public:
  explicit http_client(std::uint16_t port);
  ~http_client();

  // Sets "Authorization: Bearer <token>" on every later request (empty: none).
  void set_token(std::string token) { token_ = std::move(token); }

  // JSON body with Content-Type: application/json when `body` is not null.
  http_reply request(const std::string& method, const std::string& target,
                     const nlohmann::json& body = nullptr,
                     std::vector<std::pair<std::string, std::string>> headers = {});
  // Any body bytes with the given content type (empty: no Content-Type header).
  http_reply request_raw(const std::string& method, const std::string& target,
                         const std::string& body, const std::string& content_type,
                         std::vector<std::pair<std::string, std::string>> headers = {});

  http_reply get(const std::string& target) { return request("GET", target); }
  http_reply post(const std::string& target, const nlohmann::json& body = nlohmann::json::object()) {
    return request("POST", target, body);
  }
  http_reply patch(const std::string& target, const nlohmann::json& body) {
    return request("PATCH", target, body);
  }
  http_reply del(const std::string& target) { return request("DELETE", target); }

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
  std::string token_;
};

// Writes `raw` bytes on a fresh connection and returns everything read until the server closes
// or `timeout` passes (for malformed requests, oversized headers, limits).
std::string raw_exchange(std::uint16_t port, const std::string& raw,
                         std::chrono::milliseconds timeout = std::chrono::seconds(5));

// The status code of the first response in `raw_response` ("HTTP/1.1 413 ..."), 0 if none.
int status_of(const std::string& raw_response);

}  // namespace psig::test
