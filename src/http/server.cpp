#include "http/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <spdlog/spdlog.h>

#include "http/upgrade.hpp"
#include "psig/common/ids.hpp"

namespace psig::http {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

bhttp::response<bhttp::string_body> to_beast(const response& r, unsigned version, bool keep_alive,
                                             const std::string& request_id) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), version};
  res.set(bhttp::field::server, "projectsignal");
  res.set("X-Request-Id", request_id);
  if (!r.body.empty() && !r.content_type.empty()) res.set(bhttp::field::content_type, r.content_type);
  for (const auto& [name, value] : r.headers) res.set(name, value);
  res.body() = r.body;
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

request to_request(bhttp::request<bhttp::string_body>&& msg, std::string remote) {
  request req;
  req.method = std::string(msg.method_string());
  const std::string_view target = msg.target();
  const auto q = target.find('?');
  req.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) req.query = std::string(target.substr(q + 1));
  for (const auto& field : msg) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    req.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  req.body = std::move(msg.body());
  req.request_id = common::new_id("req");
  req.remote_address = std::move(remote);
  return req;
}

// Errors met while reading a request that deserve an answer before the connection closes.
struct read_error {
  int status;
  std::string_view code;
  std::string_view field;  // what the error body names
};
std::optional<read_error> classify_read_error(const boost::system::error_code& ec) {
  if (ec == bhttp::error::header_limit) return read_error{431, "header_too_large", "headers"};
  if (ec == bhttp::error::body_limit) return read_error{413, "body_too_large", "body"};
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
      ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
    return read_error{400, "bad_request", "request"};
  }
  return std::nullopt;
}

}  // namespace

struct server::connection {
  explicit connection(tcp::socket s) : stream(std::move(s)) {}
  beast::tcp_stream stream;
  bool busy = false;  // only touched on the connection's strand
};

server::server(asio::io_context& ioc, const router& routes, common::metrics_registry& metrics,
               server_limits limits)
    : ioc_(ioc), routes_(routes), metrics_(metrics), limits_(limits),
      acceptor_(asio::make_strand(ioc)) {}

server::~server() = default;

void server::on_upgrade(std::string path,
                        std::function<void(std::unique_ptr<upgrade_request>)> handler) {
  upgrade_path_ = std::move(path);
  upgrade_handler_ = std::move(handler);
}

void server::listen(const std::string& host, std::uint16_t port) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) throw std::system_error(ec, "listen address " + host);
  const tcp::endpoint ep(address, port);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(ep, ec);
  if (ec) throw std::system_error(ec, "listen on " + host + ":" + std::to_string(port));
  acceptor_.listen(asio::socket_base::max_listen_connections);
}

std::uint16_t server::port() const { return acceptor_.local_endpoint().port(); }

void server::start() {
  asio::co_spawn(acceptor_.get_executor(), [this]() { return accept_loop(); }, asio::detached);
}

void server::stop() {
  stopping_ = true;
  asio::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
  });
  std::lock_guard lock(connections_mutex_);
  for (auto& [id, weak] : connections_) {
    if (auto conn = weak.lock()) {
      asio::post(conn->stream.get_executor(), [conn] {
        if (!conn->busy) conn->stream.socket().close();  // idle: wake its read, which then ends
      });
    }
  }
}

void server::forget(std::uint64_t id) {
  std::lock_guard lock(connections_mutex_);
  connections_.erase(id);
}

awaitable<void> server::accept_loop() {
  asio::steady_timer backoff(acceptor_.get_executor());
  while (!stopping_) {
    auto [ec, socket] = co_await acceptor_.async_accept(asio::make_strand(ioc_), use_tuple);
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) co_return;
      // Out of descriptors and the like: wait instead of spinning.
      spdlog::warn("accept failed: {}", ec.message());
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(use_tuple);
      continue;
    }
    auto conn = std::make_shared<connection>(std::move(socket));
    std::uint64_t id = 0;
    {
      std::lock_guard lock(connections_mutex_);
      id = ++next_id_;
      connections_.emplace(id, conn);
    }
    asio::co_spawn(
        conn->stream.get_executor(), [this, conn, id]() { return serve(conn, id); },
        asio::detached);
  }
}

awaitable<void> server::serve(std::shared_ptr<connection> conn, std::uint64_t id) {
  ++connection_count_;
  auto& stream = conn->stream;
  boost::system::error_code ignored;
  const auto remote_ep = stream.socket().remote_endpoint(ignored);
  const std::string remote = remote_ep.address().to_string() + ":" + std::to_string(remote_ep.port());
  beast::flat_buffer buffer;
  bool keep_alive = true;

  auto write = [&](const response& res, unsigned version, bool keep,
                   const std::string& request_id) -> awaitable<bool> {
    auto msg = to_beast(res, version, keep, request_id);
    stream.expires_after(limits_.read_timeout);
    auto [ec, n] = co_await bhttp::async_write(stream, msg, use_tuple);
    co_return !ec;
  };

  while (keep_alive && !stopping_) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
    parser.body_limit(limits_.max_body_bytes);
    conn->busy = false;
    stream.expires_after(limits_.idle_timeout);
    auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, use_tuple);
    conn->busy = true;
    if (!ec) {
      // curl and others wait for this before sending a large body.
      const auto expect = parser.get()[bhttp::field::expect];
      if (beast::iequals(expect, "100-continue")) {
        bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, parser.get().version()};
        stream.expires_after(limits_.read_timeout);
        auto [wec, wn] = co_await bhttp::async_write(stream, cont, use_tuple);
        ec = wec;
      }
    }
    if (!ec) {
      stream.expires_after(limits_.read_timeout);
      std::tie(ec, n) = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
    }
    if (ec) {
      if (auto failure = classify_read_error(ec)) {
        request req;
        req.request_id = common::new_id("req");
        auto res = error_response(
            req, failure->status, failure->code,
            std::string(failure->field) + ": " + ec.message(),
            {{{"field", failure->field}, {"message", ec.message()}}});
        metrics_
            .get_counter("psig_http_requests_total", "HTTP requests by route, method and status",
                         {{"route", "unread"}, {"method", "-"}, {"status", std::to_string(failure->status)}})
            .inc();
        spdlog::info("request_id={} remote={} status={} error=\"{}\"", req.request_id, remote,
                     failure->status, ec.message());
        co_await write(res, 11, false, req.request_id);
      }
      break;  // end of stream, timeout, reset or an answered read error: close
    }

    auto msg = parser.release();
    if (upgrade_handler_ && boost::beast::websocket::is_upgrade(msg) &&
        msg.target().substr(0, msg.target().find('?')) == upgrade_path_) {
      // The gateway owns the socket from here on; this HTTP session ends without closing it.
      stream.expires_never();
      auto up = std::make_unique<upgrade_request>(upgrade_request{std::move(stream), std::move(msg), remote});
      --connection_count_;
      forget(id);
      upgrade_handler_(std::move(up));
      co_return;
    }
    const unsigned version = msg.version();
    keep_alive = msg.keep_alive();
    request req = to_request(std::move(msg), remote);
    const auto started = std::chrono::steady_clock::now();
    std::string route = "unmatched";
    response res;
    try {
      res = co_await dispatch(req, route);
    } catch (const std::exception& e) {
      spdlog::error("request_id={} {} {} failed: {}", req.request_id, req.method, req.path,
                    e.what());
      res = error_response(req, 500, "internal_error", "internal error");
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    metrics_
        .get_counter("psig_http_requests_total", "HTTP requests by route, method and status",
                     {{"route", route}, {"method", req.method}, {"status", std::to_string(res.status)}})
        .inc();
    metrics_
        .get_histogram("psig_http_request_duration_seconds", "HTTP request latency by route",
                       {{"route", route}})
        .observe(seconds);
    spdlog::info("request_id={} remote={} method={} path={} status={} duration_ms={:.2f}",
                 req.request_id, remote, req.method, req.path, res.status, seconds * 1000);
    if (stopping_) keep_alive = false;
    if (!co_await write(res, version, keep_alive, req.request_id)) break;
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.close();
  --connection_count_;
  forget(id);
}

awaitable<response> server::dispatch(request& req, std::string& route) {
  auto m = routes_.match(req.method, req.path);
  if (!m.target) {
    if (!m.path_found) co_return error_response(req, 404, "not_found", "no such route");
    route = m.route;
    auto res = error_response(req, 405, "method_not_allowed",
                              "method " + req.method + " is not allowed here");
    res.headers.emplace_back("Allow", m.allow);
    co_return res;
  }
  route = m.route;
  req.params = std::move(m.params);
  co_return co_await (*m.target)(req);
}

}  // namespace psig::http
