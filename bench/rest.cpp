#include "rest.hpp"

#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace psig::bench {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using nlohmann::json;

endpoint parse_http_url(const std::string& url, std::string* path) {
  auto rest = url;
  for (const char* scheme : {"http://", "ws://"}) {
    if (rest.rfind(scheme, 0) == 0) rest = rest.substr(std::string(scheme).size());
  }
  const auto slash = rest.find('/');
  const auto hostport = rest.substr(0, slash);
  if (path) *path = slash == std::string::npos ? "/" : rest.substr(slash);
  const auto colon = hostport.rfind(':');
  endpoint ep;
  ep.host = hostport.substr(0, colon);
  ep.port = colon == std::string::npos ? 80 : static_cast<std::uint16_t>(std::stoi(hostport.substr(colon + 1)));
  return ep;
}

namespace {

http::response<http::string_body> exchange(const endpoint& api, const std::string& method,
                                           const std::string& target, const std::string& token,
                                           const json& body) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  asio::ip::tcp::resolver resolver(ioc);
  stream.connect(resolver.resolve(api.host, std::to_string(api.port)));
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, api.host);
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  if (!body.is_null()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body.dump();
  }
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  return res;
}

}  // namespace

std::string http_get(const endpoint& api, const std::string& target) {
  auto res = exchange(api, "GET", target, "", nullptr);
  if (res.result_int() != 200) throw std::runtime_error("GET " + target + ": HTTP " + std::to_string(res.result_int()));
  return std::move(res.body());
}

json rest_call(const endpoint& api, const std::string& method, const std::string& target,
               const std::string& token, const json& body, int expect) {
  auto res = exchange(api, method, target, token, body);
  if (res.result_int() != static_cast<unsigned>(expect)) {
    throw std::runtime_error(method + " " + target + ": HTTP " + std::to_string(res.result_int()) +
                             " " + res.body());
  }
  return res.body().empty() ? json() : json::parse(res.body());
}

bench_project make_bench_project(const endpoint& api, const std::string& admin_token,
                                 const std::string& name) {
  const json settings{{"ingest_rate_per_second", 10'000'000},
                      {"ingest_burst", 10'000'000},
                      {"max_ws_connections", 1'000'000}};
  bench_project p;
  p.id = rest_call(api, "POST", "/v1/projects", admin_token, {{"name", name}, {"settings", settings}}, 201)
             .at("id")
             .get<std::string>();
  p.key = rest_call(api, "POST", "/v1/projects/" + p.id + "/keys", admin_token,
                    {{"name", "bench"}, {"scopes", {"events:write", "events:read", "manage", "ws"}}}, 201)
              .at("key")
              .get<std::string>();
  return p;
}

project_cleanup::~project_cleanup() {
  try {
    rest_call(api_, "DELETE", "/v1/projects/" + project_, admin_token_, nullptr, 204);
  } catch (const std::exception&) {
    // The daemon may be gone already; nothing of this run is measured any more.
  }
}

std::string make_consumer(const endpoint& api, const bench_project& p, const json& spec) {
  return rest_call(api, "POST", "/v1/projects/" + p.id + "/consumers", p.key, spec, 201)
      .at("id")
      .get<std::string>();
}

void subscribe(const endpoint& api, const bench_project& p, const std::string& consumer,
               const std::string& pattern) {
  rest_call(api, "POST", "/v1/projects/" + p.id + "/subscriptions", p.key,
            {{"consumer_id", consumer}, {"pattern", pattern}}, 201);
}

std::string ws_token(const endpoint& api, const bench_project& p, const std::string& user,
                     const std::string& pattern, const std::string& consumer) {
  return rest_call(api, "POST", "/v1/projects/" + p.id + "/ws-tokens", p.key,
                   {{"user", user}, {"patterns", {pattern}}, {"ttl", 86400}, {"consumer_id", consumer}}, 201)
      .at("token")
      .get<std::string>();
}

}  // namespace psig::bench
