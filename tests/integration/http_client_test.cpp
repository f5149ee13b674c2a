// The delivery HTTP client against real receivers on loopback: results, the SSRF guard, the
// deadline, the 16 KiB cap, gzip, keep-alive. Traffic goes to 127.0.0.1 and ::1 only; the other
// non-global ranges are proven by the classifier's unit tests, which connect nowhere.
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>

#include "delivery/http_client.hpp"
#include "support/receiver.hpp"

namespace psig::test {
namespace {

using namespace std::chrono_literals;
using delivery::http_attempt_request;
using delivery::http_attempt_result;

std::vector<domain::cidr> loopback_allowed() {
  return {*domain::parse_cidr("127.0.0.0/8"), *domain::parse_cidr("::1/128")};
}

// A client on a private io_context; every post is bounded by its own timeout and, in case the
// client itself hangs, by run_for.
class client_under_test {
 public:
  explicit client_under_test(std::vector<domain::cidr> allow = loopback_allowed(),
                             std::size_t max_idle = 8, std::chrono::seconds idle_timeout = 30s)
      : client_(ioc_, options(std::move(allow), max_idle, idle_timeout)) {}

  http_attempt_result post(const std::string& url, std::chrono::milliseconds timeout = 3s,
                           std::vector<std::pair<std::string, std::string>> headers = {},
                           std::string body = R"({"hello":"world"})") {
    http_attempt_request req;
    req.url = url;
    req.timeout = timeout;
    req.headers = std::move(headers);
    req.body = std::move(body);
    auto result = asio::co_spawn(ioc_, client_.post(std::move(req)), asio::use_future);
    ioc_.restart();
    ioc_.run_for(timeout + 5s);
    if (result.wait_for(0s) != std::future_status::ready) {
      ADD_FAILURE() << "post to " << url << " did not finish";
      return {};
    }
    return result.get();
  }

  delivery::http_delivery_client& client() { return client_; }
  asio::io_context& ioc() { return ioc_; }

 private:
  static delivery::http_client_options options(std::vector<domain::cidr> allow,
                                               std::size_t max_idle,
                                               std::chrono::seconds idle_timeout) {
    delivery::http_client_options o;
    o.ssrf_allow = std::move(allow);
    o.max_idle_per_origin = max_idle;
    o.idle_timeout = idle_timeout;
    return o;
  }

  asio::io_context ioc_;
  delivery::http_delivery_client client_;
};

scripted_response respond(int status, std::string body = {},
                          std::vector<std::pair<std::string, std::string>> headers = {}) {
  scripted_response r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

std::string pattern(std::size_t size) {
  std::string s;
  s.reserve(size);
  for (std::size_t i = 0; s.size() < size; ++i) s += "line " + std::to_string(i) + "\n";
  s.resize(size);
  return s;
}

TEST(http_client_test, success_keeps_the_body) {
  receiver r;
  r.respond_with([](const received_request&) { return respond(200, "thanks"); });
  client_under_test c;
  const auto res = c.post(r.url());
  EXPECT_EQ(res.error_class, "") << res.error;
  ASSERT_TRUE(res.status_code);
  EXPECT_EQ(*res.status_code, 200);
  EXPECT_EQ(res.body, "thanks");
  EXPECT_FALSE(res.body_truncated);
  EXPECT_FALSE(res.retry_after);
  EXPECT_LT(res.duration, 3s);
}

TEST(http_client_test, error_statuses_are_results) {
  receiver r;
  r.respond_with([](const received_request& req) {
    return req.target == "/missing" ? respond(404, "no such hook") : respond(500, "boom");
  });
  client_under_test c;
  const auto failed = c.post(r.url("/hook"));
  EXPECT_EQ(failed.error_class, "");
  EXPECT_EQ(failed.status_code, 500);
  EXPECT_EQ(failed.body, "boom");
  const auto missing = c.post(r.url("/missing"));
  EXPECT_EQ(missing.error_class, "");
  EXPECT_EQ(missing.status_code, 404);
  EXPECT_EQ(missing.body, "no such hook");
}

TEST(http_client_test, invalid_url_is_a_result) {
  client_under_test c;
  EXPECT_EQ(c.post("ftp://127.0.0.1/x").error_class, "invalid_url");
  EXPECT_EQ(c.post("http://user@127.0.0.1/x").error_class, "invalid_url");
}

// Every spelling of loopback (and the unspecified address, which reaches it too).
std::vector<std::string> loopback_urls(std::uint16_t v4_port, std::uint16_t v6_port) {
  const auto p4 = std::to_string(v4_port);
  const auto p6 = std::to_string(v6_port);
  return {"http://127.0.0.1:" + p4 + "/hook",          "http://127.1:" + p4 + "/hook",
          "http://2130706433:" + p4 + "/hook",         "http://[::1]:" + p6 + "/hook",
          "http://[::ffff:127.0.0.1]:" + p4 + "/hook", "http://0.0.0.0:" + p4 + "/hook",
          "http://localhost:" + p4 + "/hook"};
}

TEST(http_client_test, ssrf_guard_refuses_loopback_without_an_allow_list) {
  receiver v4("127.0.0.1");
  receiver v6("::1");
  client_under_test c(std::vector<domain::cidr>{});
  for (const auto& url : loopback_urls(v4.port(), v6.port())) {
    const auto res = c.post(url);
    EXPECT_EQ(res.error_class, "ssrf_blocked") << url << ": " << res.error;
    EXPECT_FALSE(res.status_code) << url;
  }
  EXPECT_NE(c.post(v4.url()).error.find("loopback"), std::string::npos);
  // Not a request, not even a TCP connection.
  EXPECT_EQ(v4.count(), 0u);
  EXPECT_EQ(v6.count(), 0u);
  EXPECT_EQ(v4.connections(), 0u);
  EXPECT_EQ(v6.connections(), 0u);
}

TEST(http_client_test, allow_list_reaches_loopback) {
  receiver v4("127.0.0.1");
  receiver v6("::1");
  client_under_test c(loopback_allowed(), 0);
  std::size_t expected_v4 = 0;
  for (const auto& url : loopback_urls(v4.port(), v6.port())) {
    const auto res = c.post(url);
    if (url.find("0.0.0.0") != std::string::npos) {
      // "This network" is not loopback: the allow-list does not cover it.
      EXPECT_EQ(res.error_class, "ssrf_blocked") << res.error;
      continue;
    }
    EXPECT_EQ(res.error_class, "") << url << ": " << res.error;
    EXPECT_EQ(res.status_code, 200) << url;
    if (url.find("[::1]") == std::string::npos) ++expected_v4;
  }
  EXPECT_EQ(v4.count(), expected_v4);
  EXPECT_EQ(v6.count(), 1u);
}

TEST(http_client_test, deadline_covers_a_slow_receiver) {
  receiver r;
  r.respond_with([](const received_request&) {
    auto res = respond(200);
    res.delay = 3s;
    return res;
  });
  client_under_test c;
  const auto started = std::chrono::steady_clock::now();
  const auto res = c.post(r.url(), 300ms);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(res.error_class, "timeout") << res.error;
  EXPECT_FALSE(res.status_code);
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 2s);
  EXPECT_EQ(c.client().idle_connections(), 0u);
}

TEST(http_client_test, redirects_are_not_followed) {
  receiver r;
  const std::string elsewhere = r.url("/elsewhere");
  r.respond_with([&](const received_request&) {
    return respond(302, "", {{"Location", elsewhere}});
  });
  client_under_test c;
  const auto res = c.post(r.url("/hook"));
  EXPECT_EQ(res.error_class, "");
  EXPECT_EQ(res.status_code, 302);
  EXPECT_FALSE(r.wait_for(2, 200ms));
  const auto seen = r.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].target, "/hook");
}

TEST(http_client_test, large_body_is_cut_at_16_kib) {
  receiver r;
  const std::string big = pattern(1024 * 1024);
  r.respond_with([&](const received_request&) { return respond(200, big); });
  client_under_test c;
  const auto res = c.post(r.url());
  EXPECT_EQ(res.error_class, "") << res.error;
  EXPECT_EQ(res.status_code, 200);
  EXPECT_TRUE(res.body_truncated);
  EXPECT_EQ(res.body, big.substr(0, delivery::max_kept_response_bytes));
  // The rest was never read: the connection cannot be reused.
  EXPECT_EQ(c.client().idle_connections(), 0u);
}

TEST(http_client_test, body_of_exactly_16_kib_is_whole) {
  receiver r;
  const std::string exact = pattern(delivery::max_kept_response_bytes);
  r.respond_with([&](const received_request&) { return respond(200, exact); });
  client_under_test c;
  const auto res = c.post(r.url());
  EXPECT_EQ(res.body, exact);
  EXPECT_FALSE(res.body_truncated);
  EXPECT_EQ(c.client().idle_connections(), 1u);
}

TEST(http_client_test, gzip_body_is_inflated_and_capped) {
  receiver r;
  const std::string small = R"({"accepted":true})";
  const std::string big = pattern(200 * 1024);
  r.respond_with([&](const received_request& req) {
    auto res = respond(200, req.target == "/small" ? small : big);
    res.gzip = true;
    return res;
  });
  client_under_test c;
  const auto whole = c.post(r.url("/small"));
  EXPECT_EQ(whole.error, "");
  EXPECT_EQ(whole.body, small);
  EXPECT_FALSE(whole.body_truncated);
  const auto capped = c.post(r.url("/big"));
  EXPECT_EQ(capped.error_class, "") << capped.error;
  EXPECT_TRUE(capped.body_truncated);
  EXPECT_EQ(capped.body, big.substr(0, delivery::max_kept_response_bytes));
}

TEST(http_client_test, keep_alive_reuses_the_connection) {
  receiver r;
  client_under_test c;
  EXPECT_EQ(c.post(r.url()).status_code, 200);
  EXPECT_EQ(c.client().idle_connections(), 1u);
  EXPECT_EQ(c.post(r.url()).status_code, 200);
  EXPECT_EQ(c.client().idle_connections(), 1u);
  const auto seen = r.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].connection, seen[1].connection);
  EXPECT_EQ(r.connections(), 1u);
}

TEST(http_client_test, connections_idle_past_the_idle_timeout_are_discarded) {
  receiver r;
  client_under_test c(loopback_allowed(), 8, 0s);
  EXPECT_EQ(c.post(r.url()).status_code, 200);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(c.client().idle_connections(), 0u);
  EXPECT_EQ(c.post(r.url()).status_code, 200);
  EXPECT_EQ(r.connections(), 2u);
}

TEST(http_client_test, receiver_closing_after_each_response_still_works) {
  receiver r;
  r.respond_with([](const received_request&) {
    auto res = respond(200, "bye");
    res.close = true;
    return res;
  });
  client_under_test c;
  for (int i = 0; i < 3; ++i) {
    const auto res = c.post(r.url());
    EXPECT_EQ(res.status_code, 200) << res.error;
    EXPECT_EQ(res.body, "bye");
    EXPECT_EQ(c.client().idle_connections(), 0u);
  }
  EXPECT_EQ(r.connections(), 3u);
}

TEST(http_client_test, pooled_connection_closed_by_the_receiver_is_not_reused) {
  receiver r;
  client_under_test c;
  EXPECT_EQ(c.post(r.url()).status_code, 200);
  ASSERT_EQ(c.client().idle_connections(), 1u);
  r.drop_connections();  // the receiver's idle timeout, while the client still pools it
  std::this_thread::sleep_for(50ms);
  const auto res = c.post(r.url());
  EXPECT_EQ(res.error_class, "") << res.error;
  EXPECT_EQ(res.status_code, 200);
  EXPECT_EQ(r.count(), 2u);
  EXPECT_EQ(r.connections(), 2u);
}

TEST(http_client_test, kept_alive_connection_closed_before_answering_is_retried_once) {
  receiver r;
  r.respond_with([](const received_request& req) {
    auto res = respond(200, "ok");
    res.drop = req.target == "/drop" && req.connection == 1;  // only on the kept-alive one
    return res;
  });
  client_under_test c;
  EXPECT_EQ(c.post(r.url("/first")).status_code, 200);
  const auto res = c.post(r.url("/drop"));
  EXPECT_EQ(res.error_class, "") << res.error;
  EXPECT_EQ(res.status_code, 200);
  const auto seen = r.requests();
  ASSERT_EQ(seen.size(), 3u);  // the dropped one was written, then sent again on a new one
  EXPECT_EQ(seen[1].connection, 1u);
  EXPECT_EQ(seen[2].connection, 2u);
}

TEST(http_client_test, new_connection_closed_before_answering_is_not_retried) {
  receiver r;
  r.respond_with([](const received_request&) {
    auto res = respond(200);
    res.drop = true;
    return res;
  });
  client_under_test c;
  const auto res = c.post(r.url());
  EXPECT_EQ(res.error_class, "io") << res.error;
  EXPECT_FALSE(res.status_code);
  EXPECT_EQ(r.count(), 1u);
}

TEST(http_client_test, retry_after_is_captured) {
  receiver r;
  r.respond_with([](const received_request&) {
    return respond(503, "busy", {{"Retry-After", "120"}});
  });
  client_under_test c;
  const auto res = c.post(r.url());
  EXPECT_EQ(res.status_code, 503);
  ASSERT_TRUE(res.retry_after);
  EXPECT_EQ(*res.retry_after, "120");
}

TEST(http_client_test, request_carries_the_body_and_headers) {
  receiver r;
  client_under_test c;
  const auto res =
      c.post(r.url("/hook?tenant=7"), 3s,
             {{"webhook-id", "msg_1"}, {"Authorization", "Bearer t0k"}, {"Content-Length", "999"}},
             R"({"id":"evt_1"})");
  EXPECT_EQ(res.status_code, 200) << res.error;
  const auto seen = r.requests();
  ASSERT_EQ(seen.size(), 1u);
  const auto& req = seen[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, "/hook?tenant=7");
  EXPECT_EQ(req.body, R"({"id":"evt_1"})");
  EXPECT_EQ(req.header("webhook-id"), "msg_1");
  EXPECT_EQ(req.header("authorization"), "Bearer t0k");
  EXPECT_EQ(req.header("content-type"), "application/json");
  EXPECT_EQ(req.header("content-length"), "14");  // framing stays the client's
  EXPECT_EQ(req.header("user-agent"), "ProjectSignal/1");
  EXPECT_EQ(req.header("host"), "127.0.0.1:" + std::to_string(r.port()));
}

TEST(http_client_test, header_injection_is_refused) {
  receiver r;
  client_under_test c;
  const auto res = c.post(r.url(), 3s, {{"x-evil", "a\r\nx-injected: 1"}});
  EXPECT_EQ(res.error_class, "protocol");
  EXPECT_EQ(r.connections(), 0u);
}

TEST(http_client_test, tls_to_a_plain_http_server_fails_as_tls) {
  receiver r;
  client_under_test c;
  const auto res = c.post("https://127.0.0.1:" + std::to_string(r.port()) + "/hook");
  EXPECT_EQ(res.error_class, "tls") << res.error;
  EXPECT_FALSE(res.status_code);
}

TEST(http_client_test, concurrent_posts_from_several_threads_share_the_pool) {
  receiver r;
  client_under_test c(loopback_allowed(), 2);
  std::vector<std::future<http_attempt_result>> results;
  for (int i = 0; i < 8; ++i) {
    http_attempt_request req;
    req.url = r.url("/hook/" + std::to_string(i));
    req.timeout = 5s;
    results.push_back(asio::co_spawn(asio::make_strand(c.ioc()), c.client().post(std::move(req)),
                                     asio::use_future));
  }
  std::thread helper([&] { c.ioc().run_for(10s); });
  c.ioc().run_for(10s);
  helper.join();
  for (auto& f : results) {
    ASSERT_EQ(f.wait_for(0s), std::future_status::ready);
    const auto res = f.get();
    EXPECT_EQ(res.status_code, 200) << res.error;
  }
  EXPECT_EQ(r.count(), 8u);
  EXPECT_LE(c.client().idle_connections(), 2u);
}

}  // namespace
}  // namespace psig::test
