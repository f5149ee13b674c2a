#include "support/http_client.hpp"

#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <gtest/gtest.h>
#include <sys/socket.h>

namespace psig::test {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

// Beast's expiry only bounds asynchronous operations: blocking ones get kernel timeouts, so a
// daemon that never answers fails the test instead of hanging it.
void bound_blocking_io(tcp::socket& s, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace

nlohmann::json http_reply::json() const {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) {
    ADD_FAILURE() << "response is not JSON (status " << status << "): " << body;
    throw std::runtime_error("response is not JSON");
  }
  return j;
}

std::optional<std::string> http_reply::header(const std::string& lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return std::nullopt;
}

struct http_client::impl {
  explicit impl(std::uint16_t p) : port(p), stream(ioc) {}
  std::uint16_t port;
  boost::asio::io_context ioc;
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  bool connected = false;

  void connect() {
    stream.close();
    buffer.clear();
    stream.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    bound_blocking_io(stream.socket(), std::chrono::seconds(30));
    connected = true;
  }
};

http_client::http_client(std::uint16_t port) : impl_(std::make_unique<impl>(port)) {}
http_client::~http_client() = default;

http_reply http_client::request(const std::string& method, const std::string& target,
                                const nlohmann::json& body,
                                std::vector<std::pair<std::string, std::string>> headers) {
  if (body.is_null()) return request_raw(method, target, "", "", std::move(headers));
  return request_raw(method, target, body.dump(), "application/json", std::move(headers));
}

http_reply http_client::request_raw(const std::string& method, const std::string& target,
                                    const std::string& body, const std::string& content_type,
                                    std::vector<std::pair<std::string, std::string>> headers) {
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  if (!token_.empty()) req.set(bhttp::field::authorization, "Bearer " + token_);
  if (!content_type.empty()) req.set(bhttp::field::content_type, content_type);
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.keep_alive(true);
  req.prepare_payload();

  // One retry on a fresh connection: the server may have closed an idle kept-alive one.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!impl_->connected || attempt > 0) impl_->connect();
    boost::system::error_code ec;
    bhttp::write(impl_->stream, req, ec);
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    if (!ec) bhttp::read(impl_->stream, impl_->buffer, parser, ec);
    if (ec) {
      impl_->connected = false;
      if (attempt == 0 && (ec == bhttp::error::end_of_stream || ec == boost::asio::error::connection_reset ||
                           ec == boost::asio::error::broken_pipe)) {
        continue;
      }
      throw std::runtime_error(method + " " + target + ": " + ec.message());
    }
    auto res = parser.release();
    http_reply reply;
    reply.status = static_cast<int>(res.result_int());
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      reply.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    reply.body = std::move(res.body());
    if (!res.keep_alive()) impl_->connected = false;
    return reply;
  }
  throw std::runtime_error("unreachable");
}

std::string raw_exchange(std::uint16_t port, const std::string& raw,
                         std::chrono::milliseconds timeout) {
  boost::asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  bound_blocking_io(stream.socket(), timeout);
  boost::system::error_code ec;
  boost::asio::write(stream, boost::asio::buffer(raw), ec);  // the server may stop reading early
  std::string out;
  char buf[4096];
  for (;;) {
    const std::size_t n = stream.read_some(boost::asio::buffer(buf), ec);
    out.append(buf, n);
    if (ec) break;
  }
  return out;
}

int status_of(const std::string& raw_response) {
  if (raw_response.rfind("HTTP/1.", 0) != 0 || raw_response.size() < 12) return 0;
  return std::atoi(raw_response.substr(9, 3).c_str());
}

}  // namespace psig::test
