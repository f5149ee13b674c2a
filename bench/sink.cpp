#include "sink.hpp"

#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/write.hpp>

namespace psig::bench {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct sink::impl {
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  unsigned status;
  std::string host;
  std::function<void(std::string_view)> on_body;
  std::vector<std::thread> threads;

  asio::awaitable<void> serve(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> req;
      auto [ec, n] = co_await http::async_read(stream, buffer, req, use_tuple);
      if (ec) co_return;
      if (on_body) on_body(req.body());
      http::response<http::empty_body> res{static_cast<http::status>(status), req.version()};
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
      if (wec || !req.keep_alive()) co_return;
    }
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
      if (ec) co_return;
      socket.set_option(tcp::no_delay(true));
      asio::co_spawn(ioc, [this, s = std::move(socket)]() mutable { return serve(std::move(s)); },
                     asio::detached);
    }
  }
};

sink::sink(const std::string& host, std::uint16_t port, int threads, unsigned status,
           std::function<void(std::string_view)> on_body)
    : impl_(std::make_unique<impl>()) {
  impl_->status = status;
  impl_->host = host;
  impl_->on_body = std::move(on_body);
  const tcp::endpoint ep(asio::ip::make_address(host), port);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen(asio::socket_base::max_listen_connections);
  asio::co_spawn(impl_->ioc, [this] { return impl_->accept_loop(); }, asio::detached);
  for (int i = 0; i < threads; ++i) impl_->threads.emplace_back([this] { impl_->ioc.run(); });
}

sink::~sink() {
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
}

std::uint16_t sink::port() const { return impl_->acceptor.local_endpoint().port(); }

std::string sink::url(const std::string& path) const {
  return "http://" + impl_->host + ":" + std::to_string(port()) + path;
}

}  // namespace psig::bench
