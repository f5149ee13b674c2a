#pragma once
// One connection of the delivery HTTP client (http_client.cpp). Opened behind the SSRF guard,
// used by one request at a time, and always driven on its own strand: Beast's timeouts complete
// on the executor of the waiting coroutine, so the coroutines of a multi-threaded io_context
// must not share a stream without one.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "psig/common/asio.hpp"
#include "psig/domain/address_class.hpp"
#include "psig/domain/url.hpp"

namespace psig::delivery {

using steady_clock = std::chrono::steady_clock;
using strand_executor = asio::strand<asio::io_context::executor_type>;
using outgoing_request = boost::beast::http::request<boost::beast::http::string_body>;

// The response of one exchange, in http_attempt_result's vocabulary.
struct exchange_outcome {
  std::optional<int> status_code;
  std::string error_class;  // empty when the whole response was read
  std::string error;
  std::string body;
  bool body_truncated = false;
  std::optional<std::string> retry_after;
  bool reusable = false;         // keep-alive allowed and the body fully read
  bool before_response = false;  // failed before any response byte (a stale kept-alive one)
};

class http_connection;

struct open_outcome {
  std::unique_ptr<http_connection> connection;  // null on failure
  std::string error_class;
  std::string error;
};

class http_connection {
 public:
  http_connection(strand_executor strand, asio::ssl::context* tls);
  http_connection(const http_connection&) = delete;
  http_connection& operator=(const http_connection&) = delete;

  // Resolves the host, keeps the addresses the guard allows, connects to the first that answers
  // and handshakes for https. `tls` null means plain HTTP. Run it on `strand` (co_spawn there);
  // the references must outlive the returned awaitable.
  static awaitable<open_outcome> open(strand_executor strand, asio::ssl::context* tls,
                                      const domain::http_url& url,
                                      const std::vector<domain::cidr>& allow,
                                      steady_clock::time_point deadline);

  // Writes the request and reads the response (at most max_kept_response_bytes of body). Run it
  // on executor().
  awaitable<exchange_outcome> exchange(const outgoing_request& req,
                                       steady_clock::time_point deadline);

  const strand_executor& executor() const { return strand_; }

  // Whether an idle connection can take a request: the server has not closed it and has sent
  // nothing unasked. Cheap (one non-blocking peek); call it only while no operation is pending.
  bool still_open();

 private:
  boost::beast::tcp_stream& tcp();

  strand_executor strand_;
  // Exactly one is engaged: the plain stream for http, the TLS one (which owns its TCP stream)
  // for https.
  std::optional<boost::beast::tcp_stream> plain_;
  std::optional<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls_;
  boost::beast::flat_buffer buffer_;  // bytes read past a response stay for the next one
};

}  // namespace psig::delivery
