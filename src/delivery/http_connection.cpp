#include "delivery/http_connection.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <string_view>
#include <utility>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/zlib/error.hpp>
#include <boost/beast/zlib/inflate_stream.hpp>

#include "delivery/http_client.hpp"
#include "psig/common/offload.hpp"

namespace psig::delivery {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace zlib = boost::beast::zlib;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// Cookies and the like: larger than Beast's 8 KiB default, still bounded.
constexpr std::uint32_t max_response_header_bytes = 64 * 1024;
// Compressed bytes read from a gzip body before giving up on reaching the cap (a stream of
// empty deflate blocks would otherwise be read until the deadline).
constexpr std::size_t max_gzip_wire_bytes = 1024 * 1024;
constexpr std::size_t max_gzip_header_bytes = 64 * 1024;

domain::ip_address to_domain(const asio::ip::address& address) {
  domain::ip_address ip;
  if (address.is_v4()) {
    const auto bytes = address.to_v4().to_bytes();
    std::copy(bytes.begin(), bytes.end(), ip.bytes.begin());
  } else {
    ip.v6 = true;
    const auto bytes = address.to_v6().to_bytes();
    std::copy(bytes.begin(), bytes.end(), ip.bytes.begin());
  }
  return ip;
}

std::string endpoint_text(const tcp::endpoint& ep) {
  const auto address = ep.address().to_string();
  const auto port = std::to_string(ep.port());
  return ep.address().is_v6() ? "[" + address + "]:" + port : address + ":" + port;
}

std::string classify(const error_code& ec) {
  if (ec == beast::error::timeout) return "timeout";
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category() &&
      ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
    return "protocol";
  }
  return "io";
}

template <class Outcome>
void fail(Outcome& out, std::string error_class, std::string error) {
  out.error_class = std::move(error_class);
  out.error = std::move(error);
}

// ---- DNS under the deadline -------------------------------------------------------------------

struct resolve_outcome {
  error_code ec;
  tcp::resolver::results_type results;
  bool timed_out = false;
};

// Asio cannot interrupt a getaddrinfo that has started, so the resolver races a timer and the
// coroutine resumes with whichever finishes first; the loser completes later into shared state.
// Both handlers run on `strand`, so `finished` needs no lock.
awaitable<resolve_outcome> resolve_within(strand_executor strand, std::string host,
                                          std::string port, steady_clock::time_point deadline) {
  auto start = [strand, host = std::move(host), port = std::move(port),
                deadline](auto done) mutable {
    using done_t = decltype(done);
    struct race {
      race(done_t d, const strand_executor& ex) : done(std::move(d)), resolver(ex), timer(ex) {}
      done_t done;
      tcp::resolver resolver;
      asio::steady_timer timer;
      bool finished = false;
    };
    auto r = std::make_shared<race>(std::move(done), strand);
    r->timer.expires_at(deadline);
    r->timer.async_wait([r](error_code ec) {
      if (ec == asio::error::operation_aborted || std::exchange(r->finished, true)) return;
      r->resolver.cancel();
      common::outcome<resolve_outcome> o;
      o.value.emplace().timed_out = true;
      r->done(std::move(o));
    });
    r->resolver.async_resolve(host, port, tcp::resolver::numeric_service,
                              [r](error_code ec, tcp::resolver::results_type results) {
                                if (std::exchange(r->finished, true)) return;
                                r->timer.cancel();
                                common::outcome<resolve_outcome> o;
                                auto& value = o.value.emplace();
                                value.ec = ec;
                                value.results = std::move(results);
                                r->done(std::move(o));
                              });
  };
  return common::suspend_until<resolve_outcome>(std::move(start));
}

// ---- response body ----------------------------------------------------------------------------

// Length of the gzip member header at the start of `h` (RFC 1952 §2.3), 0 while it is still
// incomplete, nullopt when `h` is not gzip.
std::optional<std::size_t> gzip_header_length(std::string_view h) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(h[i]); };
  if (h.size() < 10) return 0;
  if (byte(0) != 0x1f || byte(1) != 0x8b || byte(2) != 8 || (byte(3) & 0xe0) != 0) {
    return std::nullopt;
  }
  const unsigned flags = byte(3);
  std::size_t pos = 10;
  if ((flags & 0x04) != 0) {  // FEXTRA
    if (h.size() < pos + 2) return 0;
    pos += 2 + (byte(pos) | (static_cast<std::size_t>(byte(pos + 1)) << 8));
  }
  for (const unsigned zero_terminated : {0x08u, 0x10u}) {  // FNAME, FCOMMENT
    if ((flags & zero_terminated) == 0) continue;
    if (pos >= h.size()) return 0;
    const auto end = h.find('\0', pos);
    if (end == std::string_view::npos) return 0;
    pos = end + 1;
  }
  if ((flags & 0x02) != 0) pos += 2;  // FHCRC
  return h.size() < pos ? 0 : pos;
}

// The kept part of a response body: at most max_kept_response_bytes, after gzip decoding when
// the body is gzip. Collecting one byte past the cap is what proves the body was longer.
class body_sink {
 public:
  explicit body_sink(bool gzip) : gzip_(gzip) {}

  bool full() const { return out_.size() > max_kept_response_bytes || wire_overflow_; }
  bool truncated() const { return full(); }
  const std::string& error() const { return error_; }
  std::string take() {
    if (out_.size() > max_kept_response_bytes) out_.resize(max_kept_response_bytes);
    return std::move(out_);
  }

  void feed(const char* data, std::size_t size) {
    if (size == 0 || full()) return;
    if (!gzip_) {
      out_.append(data, std::min(size, max_kept_response_bytes + 1 - out_.size()));
      return;
    }
    wire_ += size;
    if (state_ == gzip_state::header) {
      // The header may arrive split over reads: gather it, then inflate what follows it.
      header_.append(data, size);
      const auto length = gzip_header_length(header_);
      if (!length) return stop("gzip: not a gzip stream");
      if (*length == 0) {
        if (header_.size() > max_gzip_header_bytes) stop("gzip: header too long");
        return;
      }
      state_ = gzip_state::body;
      const std::string rest = header_.substr(*length);
      header_.clear();
      inflate(rest.data(), rest.size());
    } else if (state_ == gzip_state::body) {
      inflate(data, size);
    }
    if (state_ == gzip_state::body && wire_ > max_gzip_wire_bytes) wire_overflow_ = true;
  }

 private:
  enum class gzip_state { header, body, done };

  void stop(std::string error) {
    state_ = gzip_state::done;
    error_ = std::move(error);
  }

  void inflate(const char* data, std::size_t size) {
    zlib::z_params zs;
    zs.next_in = data;
    zs.avail_in = size;
    std::array<char, 4096> chunk{};
    while (state_ == gzip_state::body && zs.avail_in > 0 && !full()) {
      zs.next_out = chunk.data();
      zs.avail_out = chunk.size();
      const std::size_t before = zs.avail_in;
      error_code ec;
      inflater_.write(zs, zlib::Flush::sync, ec);
      const std::size_t produced = chunk.size() - zs.avail_out;
      out_.append(chunk.data(), std::min(produced, max_kept_response_bytes + 1 - out_.size()));
      if (ec == zlib::error::end_of_stream) {
        state_ = gzip_state::done;  // the CRC trailer and anything after it are ignored
      } else if (ec == zlib::error::need_buffers) {
        if (produced == 0 && zs.avail_in == before) break;
      } else if (ec) {
        stop("gzip: " + ec.message());
      }
    }
  }

  bool gzip_;
  gzip_state state_ = gzip_state::header;
  std::string header_;
  zlib::inflate_stream inflater_;  // raw deflate: the gzip framing is read above
  std::string out_;
  std::size_t wire_ = 0;
  bool wire_overflow_ = false;
  std::string error_;
};

bool is_gzip(std::string_view content_encoding) {
  const auto first = content_encoding.find_first_not_of(" \t");
  if (first == std::string_view::npos) return false;
  const auto last = content_encoding.find_last_not_of(" \t");
  const auto value = content_encoding.substr(first, last - first + 1);
  return beast::iequals(value, "gzip") || beast::iequals(value, "x-gzip");
}

template <class Stream>
awaitable<exchange_outcome> run_exchange(Stream& stream, beast::tcp_stream& tcp,
                                         beast::flat_buffer& buffer, const outgoing_request& req,
                                         steady_clock::time_point deadline) {
  exchange_outcome out;
  tcp.expires_at(deadline);
  auto [wec, written] = co_await bhttp::async_write(stream, req, use_tuple);
  if (wec) {
    out.before_response = true;
    fail(out, classify(wec), "writing the request: " + wec.message());
    co_return out;
  }

  std::optional<bhttp::response_parser<bhttp::buffer_body>> parser;
  bool got_bytes = false;
  unsigned status = 0;
  for (;;) {
    parser.emplace();
    parser->header_limit(max_response_header_bytes);
    parser->body_limit(boost::none);  // the sink decides how much is kept
    auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, *parser, use_tuple);
    if (ec) {
      out.before_response = !got_bytes && !parser->got_some();
      fail(out, classify(ec), "reading the response: " + ec.message());
      co_return out;
    }
    got_bytes = true;
    status = parser->get().result_int();
    // Interim responses (100 Continue, 103 Early Hints) precede the real one.
    if (status < 100 || status >= 200 || status == 101) break;
  }

  auto& msg = parser->get();
  out.status_code = static_cast<int>(status);
  if (const auto it = msg.find(bhttp::field::retry_after); it != msg.end()) {
    out.retry_after = std::string(it->value());
  }
  body_sink sink(is_gzip(msg[bhttp::field::content_encoding]));
  std::array<char, 8192> chunk{};
  while (!parser->is_done() && !sink.full()) {
    msg.body().data = chunk.data();
    msg.body().size = chunk.size();
    auto [ec, n] = co_await bhttp::async_read(stream, buffer, *parser, use_tuple);
    if (ec == bhttp::error::need_buffer) ec = {};  // the chunk is full: hand it to the sink
    sink.feed(chunk.data(), chunk.size() - msg.body().size);
    if (ec) {
      // The status is known, so it is kept; the failure still says the response was not whole.
      fail(out, classify(ec), "reading the response body: " + ec.message());
      break;
    }
  }
  out.body_truncated = sink.truncated();
  out.body = sink.take();
  if (!sink.error().empty() && out.error.empty()) out.error = sink.error();
  out.reusable = out.error_class.empty() && parser->is_done() && !out.body_truncated &&
                 msg.keep_alive() && status != 101;
  co_return out;
}

}  // namespace

http_connection::http_connection(strand_executor strand, asio::ssl::context* tls)
    : strand_(std::move(strand)) {
  if (tls != nullptr) {
    tls_.emplace(strand_, *tls);
  } else {
    plain_.emplace(strand_);
  }
}

beast::tcp_stream& http_connection::tcp() {
  return plain_ ? *plain_ : tls_->next_layer();
}

awaitable<open_outcome> http_connection::open(strand_executor strand, asio::ssl::context* tls,
                                              const domain::http_url& url,
                                              const std::vector<domain::cidr>& allow,
                                              steady_clock::time_point deadline) {
  open_outcome out;
  auto resolving = resolve_within(strand, url.host, std::to_string(url.port), deadline);
  const resolve_outcome resolved = co_await std::move(resolving);
  if (resolved.timed_out) {
    fail(out, "timeout", "resolving " + url.host + " timed out");
    co_return out;
  }
  if (resolved.ec) {
    fail(out, "dns", "resolving " + url.host + ": " + resolved.ec.message());
    co_return out;
  }

  // The guard (DESIGN §8): decided on the resolved addresses, at every new connection.
  std::vector<tcp::endpoint> allowed;
  std::vector<std::string> refused_addresses;
  std::string refused;
  for (const auto& entry : resolved.results) {
    const tcp::endpoint ep = entry.endpoint();
    const domain::ip_address ip = to_domain(ep.address());
    if (domain::address_allowed(ip, allow)) {
      if (std::find(allowed.begin(), allowed.end(), ep) == allowed.end()) allowed.push_back(ep);
      continue;
    }
    std::string text = domain::to_string(ip);
    if (std::find(refused_addresses.begin(), refused_addresses.end(), text) !=
        refused_addresses.end()) {
      continue;
    }
    if (!refused.empty()) refused += ", ";
    refused += text + " (" + domain::non_global_reason(ip).value_or("not allowed") + ")";
    refused_addresses.push_back(std::move(text));
  }
  if (allowed.empty()) {
    if (refused.empty()) {
      fail(out, "dns", "resolving " + url.host + ": no addresses");
    } else {
      fail(out, "ssrf_blocked", "refused to connect to " + url.host + ": " + refused);
    }
    co_return out;
  }

  auto conn = std::make_unique<http_connection>(strand, url.scheme == "https" ? tls : nullptr);
  auto& stream = conn->tcp();
  std::string failures;
  bool connected = false;
  for (const auto& ep : allowed) {
    stream.expires_at(deadline);
    auto [ec] = co_await stream.async_connect(ep, use_tuple);
    if (!ec) {
      connected = true;
      break;
    }
    if (ec == beast::error::timeout) {
      fail(out, "timeout", "connecting to " + endpoint_text(ep) + " timed out");
      co_return out;
    }
    if (!failures.empty()) failures += ", ";
    failures += endpoint_text(ep) + ": " + ec.message();
    error_code ignored;
    stream.socket().close(ignored);  // the next address may be of the other family
  }
  if (!connected) {
    fail(out, "connect", "connecting to " + url.host + " failed: " + failures);
    co_return out;
  }
  error_code ignored;
  stream.socket().set_option(tcp::no_delay(true), ignored);

  if (conn->tls_) {
    std::string name = url.host;
    if (!name.empty() && name.back() == '.') name.pop_back();
    error_code address_ec;
    asio::ip::make_address(name, address_ec);
    // SNI carries host names only (RFC 6066 §3).
    if (address_ec && SSL_set_tlsext_host_name(conn->tls_->native_handle(), name.c_str()) != 1) {
      fail(out, "tls", "cannot set the TLS server name " + name);
      co_return out;
    }
    conn->tls_->set_verify_mode(asio::ssl::verify_peer);
    conn->tls_->set_verify_callback(asio::ssl::host_name_verification(name));
    stream.expires_at(deadline);
    auto [ec] = co_await conn->tls_->async_handshake(asio::ssl::stream_base::client, use_tuple);
    if (ec) {
      if (ec == beast::error::timeout) {
        fail(out, "timeout", "TLS handshake with " + url.host + " timed out");
        co_return out;
      }
      std::string detail = ec.message();
      const long verify = SSL_get_verify_result(conn->tls_->native_handle());
      if (verify == X509_V_ERR_UNSPECIFIED) {
        // What OpenSSL records when host_name_verification refuses a chain it had accepted.
        detail += " (the certificate does not match " + name + ")";
      } else if (verify != X509_V_OK) {
        detail += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
      }
      fail(out, "tls", "TLS handshake with " + url.host + ": " + detail);
      co_return out;
    }
  }
  stream.expires_never();
  out.connection = std::move(conn);
  co_return out;
}

bool http_connection::still_open() {
  if (buffer_.size() != 0) return false;  // bytes nobody asked for: the framing is lost
  auto& socket = tcp().socket();
  if (!socket.is_open()) return false;
  char byte = 0;
  const auto n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return false;  // the server closed it while it idled
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
  // Unsolicited bytes on plain HTTP are a response to nothing (often a 408 before closing). TLS
  // may legitimately deliver late records (session tickets) here, so those stay.
  return tls_.has_value();
}

awaitable<exchange_outcome> http_connection::exchange(const outgoing_request& req,
                                                      steady_clock::time_point deadline) {
  exchange_outcome out;
  if (tls_) {
    out = co_await run_exchange(*tls_, tcp(), buffer_, req, deadline);
  } else {
    out = co_await run_exchange(*plain_, tcp(), buffer_, req, deadline);
  }
  // No timer stays armed while the connection idles in the pool.
  tcp().expires_never();
  co_return out;
}

}  // namespace psig::delivery
