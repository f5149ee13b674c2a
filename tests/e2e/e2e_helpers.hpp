#pragma once
// Shared by the end-to-end tests: checks of the DESIGN §7 error body, set-up calls that stop the
// test when they fail, and a walker for cursor-paged lists.
#include <cstddef>
#include <memory>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/daemon.hpp"
#include "support/http_client.hpp"

namespace psig::e2e {

using nlohmann::json;
using test::http_client;
using test::http_reply;

inline constexpr const char* default_password = "correct horse battery staple";

// A set-up step failed and the rest of the test depends on it: record why and leave the test
// (GoogleTest reports the exception as a failure of the test that threw it).
[[noreturn]] inline void fail_setup(const std::string& what) {
  ADD_FAILURE() << what;
  throw std::runtime_error(what);
}

// The JSON body of a reply that must have `status` (null for an empty body); else the test stops.
inline json expect_status(const http_reply& r, int status, const std::string& what) {
  if (r.status != status) {
    fail_setup(what + ": expected HTTP " + std::to_string(status) + ", got " +
               std::to_string(r.status) + " " + r.body);
  }
  if (r.body.empty()) return nullptr;
  return r.json();
}

// "<prefix>_" + a ULID (Crockford base32, first digit 0-7), DESIGN §1.
inline bool is_id(const std::string& prefix, const json& value) {
  if (!value.is_string()) return false;
  static const std::regex ulid("[0-7][0-9A-HJKMNP-TV-Z]{25}");
  const auto s = value.get<std::string>();
  return s.size() == prefix.size() + 27 && s.compare(0, prefix.size() + 1, prefix + "_") == 0 &&
         std::regex_match(s.substr(prefix.size() + 1), ulid);
}

// DESIGN §7: {"error": {"code", "message", "details": [...]}, "request_id"}, and the request id
// is the one the X-Request-Id header carries, so a log line can be found from either.
inline ::testing::AssertionResult is_error_body(const http_reply& r) {
  const json body = json::parse(r.body, nullptr, false);
  if (!body.is_object()) return ::testing::AssertionFailure() << "not a JSON object: " << r.body;
  const auto error = body.find("error");
  if (error == body.end() || !error->is_object()) {
    return ::testing::AssertionFailure() << "no error object: " << r.body;
  }
  for (const char* key : {"code", "message"}) {
    const auto it = error->find(key);
    if (it == error->end() || !it->is_string() || it->get<std::string>().empty()) {
      return ::testing::AssertionFailure() << "error." << key << " missing or empty: " << r.body;
    }
  }
  const auto details = error->find("details");
  if (details == error->end() || !details->is_array()) {
    return ::testing::AssertionFailure() << "error.details is not an array: " << r.body;
  }
  const auto request_id = body.find("request_id");
  if (request_id == body.end() || !request_id->is_string() || request_id->empty()) {
    return ::testing::AssertionFailure() << "request_id missing: " << r.body;
  }
  const auto header = r.header("x-request-id");
  if (!header) return ::testing::AssertionFailure() << "no X-Request-Id header";
  if (*header != request_id->get<std::string>()) {
    return ::testing::AssertionFailure()
           << "X-Request-Id " << *header << " differs from request_id " << *request_id;
  }
  return ::testing::AssertionSuccess();
}

inline std::string error_code(const http_reply& r) {
  const json body = json::parse(r.body, nullptr, false);
  if (!body.is_object() || !body.contains("error") || !body["error"].is_object()) return {};
  return body["error"].value("code", "");
}

// Status, error shape and (when given) the error code in one go.
inline void expect_error(const http_reply& r, int status, const std::string& code = {}) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_TRUE(is_error_body(r));
  if (!code.empty()) {
    EXPECT_EQ(error_code(r), code) << r.body;
  }
}

// error.details names `field` itself or something inside it ("settings" covers
// "settings.max_in_flight", "filter" covers "filter.data.x.$in").
inline ::testing::AssertionResult names_field(const http_reply& r, const std::string& field) {
  const json body = json::parse(r.body, nullptr, false);
  if (!body.is_object() || !body.contains("error") || !body["error"].is_object() ||
      !body["error"].contains("details") || !body["error"]["details"].is_array()) {
    return ::testing::AssertionFailure() << "no error.details: " << r.body;
  }
  for (const auto& d : body["error"]["details"]) {
    if (!d.is_object() || !d.contains("field") || !d["field"].is_string()) continue;
    const auto f = d["field"].get<std::string>();
    if (f == field || f.rfind(field + ".", 0) == 0 || f.rfind(field + "[", 0) == 0) {
      return ::testing::AssertionSuccess();
    }
  }
  return ::testing::AssertionFailure()
         << "error.details does not name '" << field << "': " << r.body;
}

struct account {
  std::string id;
  std::string email;
  std::string token;
};

inline account sign_up(http_client& c, const std::string& email,
                       const std::string& password = default_password) {
  json body = expect_status(c.post("/v1/auth/signup", {{"email", email}, {"password", password}}),
                            201, "signup");
  return {body["account"]["id"].get<std::string>(), email, body["token"].get<std::string>()};
}

// The "id" of a created resource (explicit: json-to-string conversions are easy to get wrong).
inline std::string id_of(const json& resource) {
  return resource.at("id").get<std::string>();
}

inline std::string project_path(const std::string& project_id) {
  return "/v1/projects/" + project_id;
}

// Set-up shortcuts: each returns the created resource and stops the test when creation fails.
inline json create_project(http_client& c, const std::string& name) {
  return expect_status(c.post("/v1/projects", {{"name", name}}), 201, "create project");
}

inline json create_key(http_client& c, const std::string& project_id,
                       const std::vector<std::string>& scopes, const std::string& name = "key") {
  return expect_status(
      c.post(project_path(project_id) + "/keys", {{"name", name}, {"scopes", scopes}}), 201,
      "create key");
}

inline json create_consumer(http_client& c, const std::string& project_id, const json& spec) {
  return expect_status(c.post(project_path(project_id) + "/consumers", spec), 201,
                       "create consumer " + spec.dump());
}

inline json webhook_spec(const std::string& name,
                         const std::string& url = "https://hooks.example.com/psig") {
  return {{"name", name}, {"kind", "webhook"}, {"url", url}};
}

inline json create_subscription(http_client& c, const std::string& project_id,
                                const std::string& consumer_id, const std::string& pattern,
                                const json& filter = nullptr) {
  json spec{{"consumer_id", consumer_id}, {"pattern", pattern}};
  if (!filter.is_null()) spec["filter"] = filter;
  return expect_status(c.post(project_path(project_id) + "/subscriptions", spec), 201,
                       "create subscription " + spec.dump());
}

// Every item of a cursor-paged list, walked with ?limit=: checks each page's shape, that only the
// last page has a null next_cursor and may be short, and that ids ascend strictly across pages
// (which also rules out duplicates).
struct paged_list {
  std::vector<json> items;
  std::vector<std::size_t> page_sizes;
  std::vector<std::string> ids() const {
    std::vector<std::string> out;
    for (const auto& i : items) out.push_back(i.value("id", ""));
    return out;
  }
};

inline paged_list list_all(http_client& c, const std::string& path, std::size_t limit) {
  paged_list out;
  std::string cursor;
  // Bounded: a cursor that never ends must fail the test, not hang it.
  for (int page = 0; page < 100; ++page) {
    std::string target =
        path + (path.find('?') == std::string::npos ? "?" : "&") + "limit=" + std::to_string(limit);
    if (!cursor.empty()) target += "&cursor=" + cursor;
    const json body = expect_status(c.get(target), 200, "GET " + target);
    if (!body.is_object() || !body.contains("data") || !body["data"].is_array() ||
        !body.contains("next_cursor")) {
      fail_setup("not a list page: " + body.dump());
    }
    const auto& data = body["data"];
    EXPECT_LE(data.size(), limit) << target;
    out.page_sizes.push_back(data.size());
    for (const auto& item : data) {
      if (!out.items.empty()) {
        EXPECT_LT(out.items.back().value("id", ""), item.value("id", ""))
            << "ids must ascend across pages of " << path;
      }
      out.items.push_back(item);
    }
    if (body["next_cursor"].is_null()) return out;
    if (!body["next_cursor"].is_string()) fail_setup("next_cursor is not a string: " + body.dump());
    EXPECT_EQ(data.size(), limit) << "only the last page may be short: " << target;
    cursor = body["next_cursor"].get<std::string>();
  }
  fail_setup("the list did not end after 100 pages: " + path);
}

// "2024-05-01T12:00:00.123Z" (how the API renders timestamps) as Unix seconds.
inline std::optional<std::int64_t> unix_seconds(const json& value) {
  if (!value.is_string()) return std::nullopt;
  const auto s = value.get<std::string>();
  std::tm tm{};
  if (s.empty() || s.back() != 'Z' ||
      std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec) != 6) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(timegm(&tm));
}

// A suite with one daemon and one operator account; every test works in projects of its own.
// `Suite` only makes the static members distinct per suite.
template <class Suite>
class operator_suite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    daemon_ = std::make_unique<test::daemon_process>();
    http_client c(daemon_->port());
    operator_ = sign_up(c, "operator@example.com");
  }
  static void TearDownTestSuite() { daemon_.reset(); }
  void SetUp() override {
    ASSERT_TRUE(daemon_ && daemon_->running()) << "the daemon did not start";
    ASSERT_FALSE(operator_.token.empty()) << "the operator account could not sign up";
    ops_ = std::make_unique<http_client>(port());
    ops_->set_token(operator_.token);
  }
  static std::uint16_t port() { return daemon_->port(); }
  http_client& ops() { return *ops_; }

  inline static std::unique_ptr<test::daemon_process> daemon_;
  inline static account operator_;
  std::unique_ptr<http_client> ops_;
};

}  // namespace psig::e2e
