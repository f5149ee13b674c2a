// The HTTP layer and the process around it: request ids, routing errors, keep-alive, limits
// enforced before buffering, health and metrics endpoints, readiness of the dependencies,
// SIGTERM and start-up configuration errors (DESIGN §7, §10).
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/e2e_helpers.hpp"
#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/test_env.hpp"

namespace psig::e2e {
namespace {

using clock_type = std::chrono::steady_clock;

// The first response of a raw exchange: status, lower-cased headers and the body it announced.
struct raw_response {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
};

raw_response parse_raw(const std::string& raw) {
  raw_response out;
  out.status = test::status_of(raw);
  const auto end = raw.find("\r\n\r\n");
  if (end == std::string::npos) return out;
  std::istringstream lines(raw.substr(0, end));
  std::string line;
  std::getline(lines, line);  // status line
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    out.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
  }
  std::size_t length = 0;
  if (const auto it = out.headers.find("content-length"); it != out.headers.end()) {
    length = std::stoul(it->second);
  }
  out.body = raw.substr(end + 4, length);
  return out;
}

// A raw error response carries the §7 error body and the same request id as its header.
void expect_raw_error(const std::string& raw, int status) {
  const auto r = parse_raw(raw);
  EXPECT_EQ(r.status, status) << raw.substr(0, 500);
  json body = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(body.is_object() && body.contains("error") && body["error"].is_object())
      << raw.substr(0, 500);
  EXPECT_TRUE(body["error"]["code"].is_string());
  EXPECT_TRUE(body["error"]["details"].is_array());
  ASSERT_TRUE(r.headers.count("x-request-id")) << raw.substr(0, 500);
  EXPECT_EQ(body.value("request_id", ""), r.headers.at("x-request-id"));
}

// Polls GET /readyz until `done` accepts the reply or `timeout` passes; returns the last reply.
// NATS connects in the background after start-up, so readiness may take a moment.
http_reply poll_readyz(std::uint16_t port, const std::function<bool(const http_reply&)>& done,
                       std::chrono::seconds timeout = std::chrono::seconds(15)) {
  http_client c(port);
  const auto deadline = clock_type::now() + timeout;
  http_reply r = c.get("/readyz");
  while (!done(r) && clock_type::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    r = c.get("/readyz");
  }
  return r;
}

// The text lines of a Prometheus exposition that hold a sample of `metric` (not HELP/TYPE).
std::vector<std::string> samples(const std::string& text, const std::string& metric) {
  std::vector<std::string> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(metric + "{", 0) == 0 || line.rfind(metric + " ", 0) == 0) out.push_back(line);
  }
  return out;
}

class HttpServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { daemon_ = std::make_unique<test::daemon_process>(); }
  static void TearDownTestSuite() { daemon_.reset(); }
  void SetUp() override {
    ASSERT_TRUE(daemon_ && daemon_->running()) << "the daemon did not start";
  }
  static std::uint16_t port() { return daemon_->port(); }
  inline static std::unique_ptr<test::daemon_process> daemon_;
};

TEST_F(HttpServer, RequestIdOnEveryResponse) {
  http_client c(port());
  std::set<std::string> seen;
  auto check = [&](const http_reply& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    const auto id = r.header("x-request-id");
    ASSERT_TRUE(id.has_value()) << "status " << r.status;
    EXPECT_FALSE(id->empty());
    EXPECT_TRUE(seen.insert(*id).second) << "request id reused: " << *id;
    if (status >= 400) {
      EXPECT_TRUE(is_error_body(r));  // also compares request_id with the header
    }
  };
  check(c.get("/healthz"), 200);
  check(c.get("/metrics"), 200);
  check(c.get("/v1/nothing-here"), 404);
  check(c.get("/v1/me"), 401);
  check(c.request("PUT", "/v1/projects"), 405);
  check(c.request_raw("POST", "/v1/auth/login", "{", "application/json"), 400);
  c.set_token(daemon_->admin_token());
  json p = create_project(c, "ids");
  check(c.del(project_path(id_of(p))), 204);
}

TEST_F(HttpServer, UnknownRouteIs404) {
  http_client c(port());
  c.set_token(daemon_->admin_token());
  for (const char* path : {"/", "/v1", "/v1/nothing-here", "/v2/projects", "/v1/projects/x/y/z/w",
                           "/v1/projects//keys", "/healthz/extra"}) {
    SCOPED_TRACE(path);
    expect_error(c.get(path), 404, "not_found");
  }
}

TEST_F(HttpServer, WrongMethodIs405WithAllow) {
  http_client c(port());
  c.set_token(daemon_->admin_token());
  const std::vector<std::tuple<std::string, std::string, std::vector<std::string>>> cases{
      {"PUT", "/v1/projects", {"GET", "POST"}},
      {"DELETE", "/healthz", {"GET"}},
      {"POST", "/v1/me", {"GET"}},
      {"GET", "/v1/auth/signup", {"POST"}},
      {"POST", "/v1/projects/prj_01ARZ3NDEKTSV4RRFFQ69G5FAV", {"GET", "PATCH", "DELETE"}},
  };
  for (const auto& [method, path, allowed] : cases) {
    SCOPED_TRACE(method + " " + path);
    const auto r = c.request(method, path);
    expect_error(r, 405, "method_not_allowed");
    const auto allow = r.header("allow");
    ASSERT_TRUE(allow.has_value());
    for (const auto& m : allowed) EXPECT_NE(allow->find(m), std::string::npos) << *allow;
    EXPECT_EQ(allow->find(method), std::string::npos) << *allow;
  }
}

TEST_F(HttpServer, KeepAlive) {
  http_client c(port());
  for (int i = 0; i < 5; ++i) {
    const auto r = c.get(i % 2 == 0 ? "/healthz" : "/readyz");
    EXPECT_TRUE(r.status == 200 || r.status == 503) << r.status;
    const auto connection = r.header("connection");
    EXPECT_FALSE(connection && *connection == "close")
        << "the server closed a kept-alive connection";
  }
  // Two pipelined requests on one connection, the second asking to close it: two answers.
  const std::string get = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  const auto raw = test::raw_exchange(port(), get + "\r\n" + get + "Connection: close\r\n\r\n");
  std::size_t answers = 0;
  for (auto at = raw.find("HTTP/1.1 200"); at != std::string::npos;
       at = raw.find("HTTP/1.1 200", at + 1)) {
    ++answers;
  }
  EXPECT_EQ(answers, 2u) << raw;
}

TEST_F(HttpServer, OversizedHeaderBlockIs431) {
  const std::string raw = test::raw_exchange(
      port(), "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(20 * 1024, 'b') +
                  "\r\n\r\n");
  expect_raw_error(raw, 431);
}

TEST_F(HttpServer, HugeContentLengthIs413BeforeTheBody) {
  const auto started = clock_type::now();
  // No body follows: the answer must come from the header alone, long before the 5 s timeout.
  const std::string raw = test::raw_exchange(
      port(),
      "POST /v1/projects HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
      "Content-Length: 10485760\r\n\r\n",
      std::chrono::seconds(5));
  EXPECT_LT(clock_type::now() - started, std::chrono::seconds(3));
  expect_raw_error(raw, 413);
}

TEST_F(HttpServer, GarbageRequestLineIs400) {
  for (const std::string garbage :
       {"THIS IS NOT HTTP\r\n\r\n", "GET\r\n\r\n", "GET /healthz HTTP/9.Z\r\n\r\n",
        "G@T /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n"}) {
    SCOPED_TRACE(garbage);
    expect_raw_error(test::raw_exchange(port(), garbage), 400);
  }
  // The server survived all of it.
  EXPECT_EQ(http_client(port()).get("/healthz").status, 200);
}

TEST_F(HttpServer, Healthz) {
  http_client c(port());
  const auto r = c.get("/healthz");
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(HttpServer, ReadyzReportsEveryDependency) {
  const auto r = poll_readyz(port(), [](const http_reply& r) { return r.status == 200; });
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json(), json::parse(R"({"status":"ready",
                                      "checks":{"postgres":"ok","nats":"ok","redis":"ok"}})"));
}

TEST_F(HttpServer, MetricsExposeRequestsLatencyAndPool) {
  http_client c(port());
  ASSERT_EQ(c.get("/healthz").status, 200);
  const auto r = c.get("/metrics");
  ASSERT_EQ(r.status, 200);
  const auto type = r.header("content-type");
  ASSERT_TRUE(type.has_value());
  EXPECT_EQ(type->rfind("text/plain", 0), 0u) << *type;

  bool healthz_counted = false;
  for (const auto& line : samples(r.body, "psig_http_requests_total")) {
    healthz_counted = healthz_counted || line.find(R"(route="/healthz")") != std::string::npos;
  }
  EXPECT_TRUE(healthz_counted) << r.body;
  bool healthz_bucket = false;
  for (const auto& line : samples(r.body, "psig_http_request_duration_seconds_bucket")) {
    healthz_bucket = healthz_bucket || (line.find(R"(route="/healthz")") != std::string::npos &&
                                        line.find("le=") != std::string::npos);
  }
  EXPECT_TRUE(healthz_bucket) << r.body;
  EXPECT_FALSE(samples(r.body, "psig_db_pool_connections").empty()) << r.body;
}

// Redis only serves rate limits and presence: without it the node stays ready, but says so.
TEST(HttpServerRedisDown, ReadyButDegraded) {
  test::daemon_options opts;
  opts.env["PSIG_REDIS_URL"] = "redis://127.0.0.1:" + std::to_string(test::free_port());
  test::daemon_process daemon(opts);
  const auto r = poll_readyz(daemon.port(), [](const http_reply& r) { return r.status == 200; });
  ASSERT_EQ(r.status, 200) << r.body;
  json body = r.json();
  EXPECT_EQ(body["status"], "degraded");
  EXPECT_EQ(body["checks"]["postgres"], "ok");
  EXPECT_EQ(body["checks"]["nats"], "ok");
  EXPECT_TRUE(body["checks"]["redis"].is_string());
  EXPECT_NE(body["checks"]["redis"], "ok");
}

// Without NATS nothing can be delivered: the node is alive but not ready.
TEST(HttpServerNatsDown, NotReady) {
  test::daemon_options opts;
  opts.env["PSIG_NATS_URL"] = "nats://127.0.0.1:" + std::to_string(test::free_port());
  test::daemon_process daemon(opts);
  http_client c(daemon.port());
  EXPECT_EQ(c.get("/healthz").status, 200);
  const auto r = c.get("/readyz");
  ASSERT_EQ(r.status, 503) << r.body;
  json body = r.json();
  EXPECT_NE(body["status"], "ready");
  EXPECT_EQ(body["checks"]["postgres"], "ok");
  EXPECT_TRUE(body["checks"]["nats"].is_string());
  EXPECT_NE(body["checks"]["nats"], "ok");
}

TEST(HttpServerLifecycle, SigtermExitsZeroAndStopsAnswering) {
  test::daemon_process daemon;
  const auto port = daemon.port();
  // An idle kept-alive connection must not hold the shutdown until the grace period ends.
  http_client idle(port);
  ASSERT_EQ(idle.get("/healthz").status, 200);
  const auto started = clock_type::now();
  EXPECT_EQ(daemon.stop(std::chrono::seconds(15)), 0) << daemon.output();
  EXPECT_LT(clock_type::now() - started, std::chrono::seconds(5));
  EXPECT_FALSE(daemon.running());
  std::string raw;
  try {
    raw = test::raw_exchange(port, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                             std::chrono::seconds(2));
  } catch (const std::exception&) {
    // Connection refused is exactly what a stopped daemon looks like.
  }
  EXPECT_EQ(test::status_of(raw), 0) << raw;
}

TEST(HttpServerLifecycle, BadConfigurationExitsWithOneLineNamingTheSetting) {
  const std::vector<std::pair<std::string, std::string>> bad{
      {"PSIG_LISTEN", "nonsense"},
      {"PSIG_HTTP_MAX_BODY_BYTES", "lots"},
      {"PSIG_LOG_FORMAT", "xml"},
  };
  for (const auto& [name, value] : bad) {
    SCOPED_TRACE(name + "=" + value);
    test::daemon_options opts;
    opts.env[name] = value;
    opts.wait_ready = false;
    test::daemon_process daemon(opts);
    EXPECT_EQ(daemon.wait_exit(std::chrono::seconds(10)), 2) << daemon.output();
    std::vector<std::string> lines;
    std::istringstream out(daemon.output());
    for (std::string line; std::getline(out, line);) {
      if (line.find_first_not_of(" \t\r") != std::string::npos) lines.push_back(line);
    }
    ASSERT_EQ(lines.size(), 1u) << daemon.output();
    EXPECT_NE(lines[0].find(name), std::string::npos) << lines[0];
  }
}

}  // namespace
}  // namespace psig::e2e
