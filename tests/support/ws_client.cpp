#include "support/ws_client.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <sys/socket.h>

namespace psig::test {
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using tcp = boost::asio::ip::tcp;

struct ws_client::impl {
  boost::asio::io_context ioc;
  websocket::stream<beast::tcp_stream> ws{ioc};
  int pongs = 0;
};

ws_client::ws_client(std::uint16_t port, std::chrono::milliseconds read_timeout, int receive_buffer)
    : impl_(std::make_unique<impl>()) {
  auto& sock = beast::get_lowest_layer(impl_->ws).socket();
  if (receive_buffer > 0) {
    sock.open(tcp::v4());
    ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  }
  beast::get_lowest_layer(impl_->ws).connect(
      tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(read_timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((read_timeout.count() % 1000) * 1000);
  ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  impl_->ws.handshake("127.0.0.1:" + std::to_string(port), "/v1/ws");
  impl_->ws.text(true);
  impl_->ws.control_callback([this](websocket::frame_type kind, beast::string_view) {
    if (kind == websocket::frame_type::pong) ++impl_->pongs;
  });
}

void ws_client::ping() {
  boost::system::error_code ec;
  impl_->ws.ping({}, ec);
}

int ws_client::pongs() const { return impl_->pongs; }

ws_client::~ws_client() {
  boost::system::error_code ec;
  beast::get_lowest_layer(impl_->ws).socket().close(ec);
}

void ws_client::send(const nlohmann::json& j) { send_text(j.dump()); }

void ws_client::send_text(const std::string& text) {
  boost::system::error_code ec;
  impl_->ws.write(boost::asio::buffer(text), ec);
}

std::optional<nlohmann::json> ws_client::receive() {
  auto text = receive_text();
  if (!text) return std::nullopt;
  return nlohmann::json::parse(*text, nullptr, false);
}

std::optional<std::string> ws_client::receive_text() {
  beast::flat_buffer buffer;
  boost::system::error_code ec;
  impl_->ws.read(buffer, ec);
  if (ec) {
    // The close frame's code, also when answering it failed because the server already left.
    if (impl_->ws.reason().code != websocket::close_code::none) close_code_ = impl_->ws.reason().code;
    return std::nullopt;
  }
  return beast::buffers_to_string(buffer.data());
}

}  // namespace psig::test
