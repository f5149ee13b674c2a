#include "support/receiver.hpp"

#include <array>
#include <cctype>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/zlib/deflate_stream.hpp>
#include <boost/beast/zlib/error.hpp>

#include "psig/common/asio.hpp"

namespace psig::test {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::uint32_t crc32(std::string_view data) {
  std::uint32_t crc = 0xffffffffu;
  for (const char c : data) {
    crc ^= static_cast<unsigned char>(c);
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void append_le32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// RFC 1952 framing around Beast's raw deflate (no zlib dependency in the tests either).
std::string gzip(std::string_view data) {
  std::string out("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", 10);
  beast::zlib::deflate_stream deflater;
  beast::zlib::z_params zs;
  zs.next_in = data.data();
  zs.avail_in = data.size();
  std::array<char, 16 * 1024> chunk{};
  for (;;) {
    zs.next_out = chunk.data();
    zs.avail_out = chunk.size();
    error_code ec;
    deflater.write(zs, beast::zlib::Flush::finish, ec);
    out.append(chunk.data(), chunk.size() - zs.avail_out);
    if (ec == beast::zlib::error::end_of_stream) break;
    if (ec && ec != beast::zlib::error::need_buffers) throw boost::system::system_error(ec);
  }
  append_le32(out, crc32(data));
  append_le32(out, static_cast<std::uint32_t>(data.size()));
  return out;
}

}  // namespace

std::optional<std::string> received_request::header(const std::string& lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return std::nullopt;
}

struct receiver::impl {
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::string address;
  std::uint16_t port = 0;
  std::thread thread;
  // Open connections by id; only touched on the receiver's thread.
  std::map<std::size_t, std::weak_ptr<beast::tcp_stream>> open;

  mutable std::mutex mutex;  // guards what follows
  mutable std::condition_variable arrived;
  std::vector<received_request> requests;
  std::function<scripted_response(const received_request&)> respond;
  std::size_t connections = 0;

  awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
      if (ec) co_return;  // closed by the destructor
      std::size_t id = 0;
      {
        std::lock_guard lock(mutex);
        id = ++connections;
      }
      auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
      open.emplace(id, stream);
      asio::co_spawn(ioc, serve(stream, id), asio::detached);
    }
  }

  awaitable<void> serve(std::shared_ptr<beast::tcp_stream> stream, std::size_t id) {
    beast::flat_buffer buffer;
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(16 * 1024 * 1024);
      auto [ec, n] = co_await bhttp::async_read(*stream, buffer, parser, use_tuple);
      if (ec) break;
      auto msg = parser.release();

      received_request rec;
      rec.method = std::string(msg.method_string());
      rec.target = std::string(msg.target());
      for (const auto& field : msg) {
        std::string name(field.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        rec.headers.emplace_back(std::move(name), std::string(field.value()));
      }
      rec.body = msg.body();
      rec.at = std::chrono::system_clock::now();
      rec.connection = id;
      std::function<scripted_response(const received_request&)> fn;
      {
        std::lock_guard lock(mutex);
        requests.push_back(rec);
        fn = respond;
      }
      arrived.notify_all();

      scripted_response script;
      if (fn) script = fn(rec);
      if (script.drop) break;
      if (script.delay.count() > 0) {
        asio::steady_timer timer(ioc);
        timer.expires_after(script.delay);
        co_await timer.async_wait(use_tuple);
      }
      bhttp::response<bhttp::string_body> res;
      res.version(msg.version());
      res.result(static_cast<unsigned>(script.status));
      for (const auto& [k, v] : script.headers) res.insert(k, v);
      if (script.gzip) {
        res.set(bhttp::field::content_encoding, "gzip");
        res.body() = gzip(script.body);
      } else {
        res.body() = std::move(script.body);
      }
      const bool keep_alive = msg.keep_alive() && !script.close;
      res.keep_alive(keep_alive);
      res.prepare_payload();
      auto [wec, wn] = co_await bhttp::async_write(*stream, res, use_tuple);
      if (wec || !keep_alive) break;
    }
    error_code ignored;
    stream->socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream->close();
    open.erase(id);
  }
};

receiver::receiver(const std::string& address) : impl_(std::make_unique<impl>()) {
  impl_->address = address;
  const tcp::endpoint ep(asio::ip::make_address(address), 0);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen(asio::socket_base::max_listen_connections);
  impl_->port = impl_->acceptor.local_endpoint().port();
  asio::co_spawn(impl_->ioc, impl_->accept_loop(), asio::detached);
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

receiver::~receiver() {
  // Pending reads, delays and writes are abandoned: their coroutines are destroyed with the
  // io_context, which closes their sockets.
  impl_->ioc.stop();
  impl_->thread.join();
}

std::uint16_t receiver::port() const {
  return impl_->port;
}

std::string receiver::url(const std::string& path) const {
  const bool v6 = impl_->address.find(':') != std::string::npos;
  const std::string host = v6 ? "[" + impl_->address + "]" : impl_->address;
  return "http://" + host + ":" + std::to_string(impl_->port) + path;
}

void receiver::respond_with(std::function<scripted_response(const received_request&)> fn) {
  std::lock_guard lock(impl_->mutex);
  impl_->respond = std::move(fn);
}

std::vector<received_request> receiver::requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->requests;
}

std::size_t receiver::count() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->requests.size();
}

std::size_t receiver::connections() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->connections;
}

bool receiver::wait_for(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  return impl_->arrived.wait_for(lock, timeout, [&] { return impl_->requests.size() >= n; });
}

void receiver::drop_connections() {
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  asio::post(impl_->ioc, [this, done] {
    for (auto& [id, weak] : impl_->open) {
      if (auto stream = weak.lock()) stream->close();  // its serve() ends on the failed read
    }
    done->set_value();
  });
  // Bounded: the receiver's thread only ever waits on I/O.
  if (finished.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
    throw std::runtime_error("receiver thread did not answer");
  }
}

}  // namespace psig::test
