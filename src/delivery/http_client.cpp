#include "delivery/http_client.hpp"

#include <algorithm>
#include <cctype>
#include <exception>
#include <map>
#include <mutex>
#include <string_view>
#include <variant>

#include <openssl/ssl.h>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/string.hpp>

#include "delivery/http_connection.hpp"
#include "psig/domain/url.hpp"

namespace psig::delivery {
namespace bhttp = boost::beast::http;

namespace {

// RFC 9110 token characters: anything else in a header name would corrupt the request.
bool valid_header_name(std::string_view name) {
  static constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || extra.find(c) != extra.npos;
  });
}

bool valid_header_value(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// Fields that frame the message or the connection: the client owns them.
bool framing_header(std::string_view name) {
  for (const std::string_view reserved :
       {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer",
        "upgrade", "expect"}) {
    if (boost::beast::iequals(name, reserved)) return true;
  }
  return false;
}

std::string host_header(const domain::http_url& url) {
  std::string host = url.ipv6_literal ? "[" + url.host + "]" : url.host;
  const bool default_port =
      (url.scheme == "http" && url.port == 80) || (url.scheme == "https" && url.port == 443);
  if (!default_port) host += ":" + std::to_string(url.port);
  return host;
}

}  // namespace

struct http_delivery_client::impl {
  impl(asio::io_context& ioc, http_client_options opts)
      : ioc_(ioc), options_(std::move(opts)), tls_(asio::ssl::context::tls_client) {
    tls_.set_default_verify_paths();
    if (!options_.extra_ca_file.empty()) tls_.load_verify_file(options_.extra_ca_file);
    tls_.set_verify_mode(asio::ssl::verify_peer);
    SSL_CTX_set_min_proto_version(tls_.native_handle(), TLS1_2_VERSION);
  }

  struct idle_connection {
    std::unique_ptr<http_connection> connection;
    steady_clock::time_point since;
  };
  using victims = std::vector<std::unique_ptr<http_connection>>;

  // Moves connections idle for longer than idle_timeout out of the pool. Each list is in the
  // order the connections were given back, so the expired ones are a prefix. Callers declare
  // their `victims` before the lock guard, so those sockets close after the mutex is released.
  void prune_locked(steady_clock::time_point now, victims& out) {
    for (auto it = idle_.begin(); it != idle_.end();) {
      auto& list = it->second;
      const auto fresh = std::find_if(list.begin(), list.end(), [&](const idle_connection& c) {
        return now - c.since <= options_.idle_timeout;
      });
      for (auto s = list.begin(); s != fresh; ++s) out.push_back(std::move(s->connection));
      list.erase(list.begin(), fresh);
      it = list.empty() ? idle_.erase(it) : std::next(it);
    }
  }

  std::unique_ptr<http_connection> take_idle(const std::string& origin) {
    victims closing;
    std::unique_ptr<http_connection> found;
    std::lock_guard lock(mutex_);
    prune_locked(steady_clock::now(), closing);
    if (auto it = idle_.find(origin); it != idle_.end()) {
      // The most recently used first: the least likely to have been closed by the server.
      auto& list = it->second;
      while (!found && !list.empty()) {
        auto candidate = std::move(list.back().connection);
        list.pop_back();
        if (candidate->still_open()) {
          found = std::move(candidate);
        } else {
          closing.push_back(std::move(candidate));
        }
      }
      if (list.empty()) idle_.erase(it);
    }
    return found;
  }

  void give_back(const std::string& origin, std::unique_ptr<http_connection> conn) {
    if (options_.max_idle_per_origin == 0) return;
    victims closing;
    std::lock_guard lock(mutex_);
    const auto now = steady_clock::now();
    prune_locked(now, closing);
    auto& list = idle_[origin];
    list.push_back(idle_connection{std::move(conn), now});
    while (list.size() > options_.max_idle_per_origin) {
      closing.push_back(std::move(list.front().connection));
      list.erase(list.begin());
    }
  }

  std::size_t idle_count() {
    victims closing;
    std::lock_guard lock(mutex_);
    prune_locked(steady_clock::now(), closing);
    std::size_t n = 0;
    for (const auto& [origin, list] : idle_) n += list.size();
    return n;
  }

  awaitable<http_attempt_result> attempt(const http_attempt_request& req,
                                         steady_clock::time_point deadline);

  asio::io_context& ioc_;
  const http_client_options options_;
  asio::ssl::context tls_;  // shared by every connection: OpenSSL makes SSL objects thread-safely
  std::mutex mutex_;        // guards idle_; never held across a co_await
  std::map<std::string, std::vector<idle_connection>> idle_;  // by "scheme://host:port"
};

awaitable<http_attempt_result> http_delivery_client::impl::attempt(
    const http_attempt_request& req, steady_clock::time_point deadline) {
  http_attempt_result result;
  auto parsed = domain::parse_http_url(req.url);
  if (auto* reason = std::get_if<std::string>(&parsed)) {
    result.error_class = "invalid_url";
    result.error = *reason;
    co_return result;
  }
  const auto& url = std::get<domain::http_url>(parsed);

  outgoing_request msg{bhttp::verb::post, url.target, 11};
  msg.set(bhttp::field::host, host_header(url));
  msg.set(bhttp::field::user_agent, options_.user_agent);
  msg.set(bhttp::field::content_type, "application/json");
  for (const auto& [name, value] : req.headers) {
    if (!valid_header_name(name) || !valid_header_value(value)) {
      result.error_class = "protocol";
      result.error = "invalid request header \"" + name + "\"";
      co_return result;
    }
    if (framing_header(name)) continue;
    // The consumer's own Content-Type or User-Agent replaces ours; anything else may repeat.
    if (boost::beast::iequals(name, "content-type") || boost::beast::iequals(name, "user-agent")) {
      msg.set(name, value);
    } else {
      msg.insert(name, value);
    }
  }
  msg.keep_alive(true);
  msg.body() = req.body;
  msg.prepare_payload();

  const std::string origin = url.scheme + "://" + host_header(url);
  std::unique_ptr<http_connection> conn = take_idle(origin);
  bool reused = conn != nullptr;
  for (;;) {
    if (!conn) {
      // A new connection: resolve and guard again, since DNS answers change.
      auto strand = asio::make_strand(ioc_);
      asio::ssl::context* tls = url.scheme == "https" ? &tls_ : nullptr;
      auto opening = asio::co_spawn(
          strand, http_connection::open(strand, tls, url, options_.ssrf_allow, deadline),
          asio::use_awaitable);
      open_outcome opened = co_await std::move(opening);
      if (!opened.connection) {
        result.error_class = std::move(opened.error_class);
        result.error = std::move(opened.error);
        co_return result;
      }
      conn = std::move(opened.connection);
    }
    auto exchanging =
        asio::co_spawn(conn->executor(), conn->exchange(msg, deadline), asio::use_awaitable);
    exchange_outcome out = co_await std::move(exchanging);
    if (reused && out.before_response && out.error_class != "timeout") {
      // The server closed the kept-alive connection while it idled: retry once, on a new one.
      conn.reset();
      reused = false;
      continue;
    }
    result.status_code = out.status_code;
    result.error_class = std::move(out.error_class);
    result.error = std::move(out.error);
    result.body = std::move(out.body);
    result.body_truncated = out.body_truncated;
    result.retry_after = std::move(out.retry_after);
    if (out.reusable) give_back(origin, std::move(conn));
    co_return result;
  }
}

http_delivery_client::http_delivery_client(asio::io_context& ioc, http_client_options options)
    : impl_(std::make_unique<impl>(ioc, std::move(options))) {}

http_delivery_client::~http_delivery_client() = default;

awaitable<http_attempt_result> http_delivery_client::post(http_attempt_request req) {
  const auto started = steady_clock::now();
  http_attempt_result result;
  try {
    // Bounded so that the deadline cannot overflow the clock.
    const auto timeout = std::min<std::chrono::milliseconds>(req.timeout, std::chrono::hours(24));
    result = co_await impl_->attempt(req, started + timeout);
  } catch (const std::exception& e) {
    // Resource exhaustion and the like: still a result, as promised to the delivery worker.
    result = http_attempt_result{};
    result.error_class = "io";
    result.error = e.what();
  }
  result.duration =
      std::chrono::duration_cast<std::chrono::milliseconds>(steady_clock::now() - started);
  co_return result;
}

std::size_t http_delivery_client::idle_connections() const {
  return impl_->idle_count();
}

}  // namespace psig::delivery
