#pragma once
// The HTTP/1.1 server: Beast with C++20 coroutines, one strand per connection, keep-alive,
// header/body limits enforced before buffering, read and idle timeouts, a request id on every
// response, and a graceful stop that lets in-flight requests finish.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <boost/asio/ip/tcp.hpp>

#include "psig/common/asio.hpp"
#include "psig/common/metrics.hpp"
#include "psig/http/router.hpp"

namespace psig::http {

struct server_limits {
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 1024 * 1024;
  std::chrono::milliseconds read_timeout{30'000};  // to read one request once it started
  std::chrono::milliseconds idle_timeout{60'000};  // between requests on a kept-alive connection
};

struct upgrade_request;

class server {
 public:
  server(asio::io_context& ioc, const router& routes, common::metrics_registry& metrics,
         server_limits limits);
  ~server();

  // Binds and listens; throws std::system_error with the address on failure.
  void listen(const std::string& host, std::uint16_t port);
  std::uint16_t port() const;
  void start();
  // Stops accepting and closes idle connections; busy ones close after their response.
  void stop();
  std::size_t connections() const { return connection_count_.load(); }

  // WebSocket upgrade requests to `path` are handed to `handler` (call before start()); others
  // are answered like any request.
  void on_upgrade(std::string path, std::function<void(std::unique_ptr<upgrade_request>)> handler);

 private:
  struct connection;
  awaitable<void> accept_loop();
  awaitable<void> serve(std::shared_ptr<connection> conn, std::uint64_t id);
  awaitable<response> dispatch(request& req, std::string& route);
  void forget(std::uint64_t id);

  asio::io_context& ioc_;
  const router& routes_;
  common::metrics_registry& metrics_;
  server_limits limits_;
  asio::ip::tcp::acceptor acceptor_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> connection_count_{0};
  std::mutex connections_mutex_;
  std::uint64_t next_id_ = 0;
  std::unordered_map<std::uint64_t, std::weak_ptr<connection>> connections_;
  std::string upgrade_path_;
  std::function<void(std::unique_ptr<upgrade_request>)> upgrade_handler_;
};

}  // namespace psig::http
