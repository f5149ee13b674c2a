#pragma once
// A connection handed from the HTTP server to the WebSocket gateway after an upgrade request.
// Beast types stay in these internal headers (src/http, src/ws), never in include/psig.
#include <string>

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace psig::http {

struct upgrade_request {
  boost::beast::tcp_stream stream;  // on the connection's strand
  boost::beast::http::request<boost::beast::http::string_body> request;
  std::string remote;
};

}  // namespace psig::http
