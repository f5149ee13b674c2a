#pragma once
// A real HTTP server on loopback for delivery tests: records every request and answers as the
// test scripts it (status, headers, body, delay, gzip). Runs on its own thread.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace psig::test {

struct received_request {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::chrono::system_clock::time_point at;
  std::size_t connection = 0;  // which accepted connection carried it (1, 2, ...)
  std::optional<std::string> header(const std::string& lower_name) const;
};

struct scripted_response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds delay{0};  // before answering (timeouts, slow receivers)
  bool gzip = false;                   // gzip-encode body and send Content-Encoding: gzip
  bool close = false;                  // close the connection after the response
  bool drop = false;                   // close the connection instead of answering
};

class receiver {
 public:
  // Listens on a free port of `address` ("127.0.0.1" or "::1").
  explicit receiver(const std::string& address = "127.0.0.1");
  ~receiver();
  receiver(const receiver&) = delete;
  receiver& operator=(const receiver&) = delete;

  std::uint16_t port() const;
  // "http://127.0.0.1:<port><path>" (IPv6: "http://[::1]:<port><path>").
  std::string url(const std::string& path = "/hook") const;

  // Called for every request (on the receiver's thread); default: 200 with an empty body.
  void respond_with(std::function<scripted_response(const received_request&)> fn);

  std::vector<received_request> requests() const;
  std::size_t count() const;
  // TCP connections accepted so far (keep-alive reuse; proof that a refused one never came).
  std::size_t connections() const;
  // Closes every open connection now, as a server's idle timeout would (stale keep-alive).
  void drop_connections();
  // Waits until at least n requests arrived; false on timeout.
  bool wait_for(std::size_t n, std::chrono::milliseconds timeout) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace psig::test
