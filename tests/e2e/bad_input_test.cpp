// Untrusted input (DESIGN §7): every malformed request gets the error body naming what is wrong,
// and none of them stores anything.
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/e2e_helpers.hpp"
#include "support/daemon.hpp"
#include "support/http_client.hpp"

namespace psig::e2e {
namespace {

constexpr const char* json_type = "application/json";
constexpr const char* hook_url = "https://hooks.example.com/psig";
constexpr const char* unknown_consumer = "con_01ARZ3NDEKTSV4RRFFQ69G5FAV";

struct bad_case {
  std::string name;
  std::string method;
  std::string path;
  std::string body;
  std::string content_type = json_type;
  int status = 400;
  std::vector<std::string> fields;  // each must appear in error.details[*].field
};

bad_case post(std::string name, std::string path, const json& body, std::string field) {
  return {std::move(name), "POST", std::move(path),   body.dump(),
          json_type,       400,    {std::move(field)}};
}

// `depth` objects nested inside each other, the innermost holding a number.
std::string nested_objects(int depth) {
  std::string s;
  for (int i = 0; i < depth; ++i) s += R"({"a":)";
  s += "1";
  s += std::string(static_cast<std::size_t>(depth), '}');
  return s;
}

class BadInput : public ::testing::Test {
 protected:
  // One daemon, one account with one project, a webhook and a websocket consumer and a
  // subscription; every test compares the stored state with this snapshot afterwards.
  static void SetUpTestSuite() {
    daemon_ = std::make_unique<test::daemon_process>();
    http_client c(daemon_->port());
    token_ = sign_up(c, "validator@example.com").token;
    c.set_token(token_);
    project_ = id_of(create_project(c, "inputs"));
    consumer_ = id_of(create_consumer(c, project_, webhook_spec("hook", hook_url)));
    websocket_ = id_of(create_consumer(c, project_, {{"name", "ws"}, {"kind", "websocket"}}));
    create_subscription(c, project_, consumer_, "order.>");
    for (const auto& path : state_paths())
      snapshot_.push_back(expect_status(c.get(path), 200, path));
  }
  static void TearDownTestSuite() { daemon_.reset(); }
  void SetUp() override {
    ASSERT_TRUE(daemon_ && daemon_->running()) << "the daemon did not start";
    ASSERT_EQ(snapshot_.size(), state_paths().size()) << "set-up failed";
  }

  static std::vector<std::string> state_paths() {
    const std::string base = project_path(project_);
    return {"/v1/projects",
            base,
            base + "/keys",
            base + "/consumers",
            base + "/consumers/" + consumer_,
            base + "/consumers/" + websocket_,
            base + "/subscriptions"};
  }

  static void run(const std::vector<bad_case>& cases) {
    http_client c(daemon_->port());
    c.set_token(token_);
    for (const auto& bc : cases) {
      SCOPED_TRACE(bc.name + ": " + bc.method + " " + bc.path + " " + bc.body.substr(0, 200));
      const auto r = c.request_raw(bc.method, bc.path, bc.body, bc.content_type);
      EXPECT_EQ(r.status, bc.status) << r.body;
      EXPECT_TRUE(is_error_body(r));
      for (const auto& field : bc.fields) EXPECT_TRUE(names_field(r, field));
    }
  }

  static void expect_nothing_stored() {
    http_client c(daemon_->port());
    c.set_token(token_);
    const auto paths = state_paths();
    for (std::size_t i = 0; i < paths.size(); ++i) {
      const auto r = c.get(paths[i]);
      ASSERT_EQ(r.status, 200) << paths[i] << " " << r.body;
      EXPECT_EQ(r.json(), snapshot_[i]) << "rejected input changed " << paths[i];
    }
  }

  static std::string base() { return project_path(project_); }
  static std::string consumers() { return base() + "/consumers"; }
  static std::string subscriptions() { return base() + "/subscriptions"; }

  inline static std::unique_ptr<test::daemon_process> daemon_;
  inline static std::string token_, project_, consumer_, websocket_;
  inline static std::vector<json> snapshot_;
};

TEST_F(BadInput, UnreadableBodies) {
  std::vector<bad_case> cases;
  for (const auto& path : {std::string("/v1/projects"), consumers(), subscriptions(),
                           base() + "/keys", std::string("/v1/auth/signup")}) {
    cases.push_back({"malformed JSON", "POST", path, R"({"name": )", json_type, 400, {"body"}});
    cases.push_back(
        {"trailing garbage", "POST", path, R"({"name":"x"} x)", json_type, 400, {"body"}});
    cases.push_back({"empty body", "POST", path, "", json_type, 400, {"body"}});
    cases.push_back({"array", "POST", path, "[1,2]", json_type, 400, {"body"}});
    cases.push_back({"string", "POST", path, R"("name")", json_type, 400, {"body"}});
    cases.push_back({"number", "POST", path, "42", json_type, 400, {"body"}});
    cases.push_back({"null", "POST", path, "null", json_type, 400, {"body"}});
    cases.push_back({"text/plain", "POST", path, R"({"name":"x"})", "text/plain", 415, {"body"}});
    cases.push_back(
        {"form", "POST", path, "name=x", "application/x-www-form-urlencoded", 415, {"body"}});
    cases.push_back({"no content type", "POST", path, R"({"name":"x"})", "", 415, {"body"}});
    cases.push_back({"65 deep",
                     "POST",
                     path,
                     R"({"name":)" + nested_objects(64) + "}",
                     json_type,
                     400,
                     {"body"}});
    cases.push_back({"65 deep arrays",
                     "POST",
                     path,
                     std::string(65, '[') + std::string(65, ']'),
                     json_type,
                     400,
                     {"body"}});
  }
  // 64 levels are allowed: the depth check passes and validation names the real problem.
  cases.push_back({"64 deep",
                   "POST",
                   "/v1/projects",
                   R"({"name":)" + nested_objects(63) + "}",
                   json_type,
                   400,
                   {"name"}});
  cases.push_back({"PATCH malformed", "PATCH", base(), "{", json_type, 400, {"body"}});
  cases.push_back({"PATCH text/plain",
                   "PATCH",
                   consumers() + "/" + consumer_,
                   R"({"name":"x"})",
                   "text/plain",
                   415,
                   {"body"}});
  run(cases);
  expect_nothing_stored();
}

TEST_F(BadInput, SignupAndLogin) {
  const std::string pw = default_password;
  std::vector<bad_case> cases;
  for (const std::string path : {"/v1/auth/signup", "/v1/auth/login"}) {
    cases.push_back(post("email number", path, {{"email", 5}, {"password", pw}}, "email"));
    cases.push_back(
        post("email list", path, {{"email", {"ghost@example.com"}}, {"password", pw}}, "email"));
    cases.push_back(post("password number", path,
                         {{"email", "ghost@example.com"}, {"password", 12345678}}, "password"));
    cases.push_back(post("no email", path, {{"password", pw}}, "email"));
    cases.push_back(post("no password", path, {{"email", "ghost@example.com"}}, "password"));
    cases.push_back(
        post("not an e-mail", path, {{"email", "ghost.example.com"}, {"password", pw}}, "email"));
    cases.push_back(post("short password", path,
                         {{"email", "ghost@example.com"}, {"password", "short"}}, "password"));
    cases.push_back(post("unknown field", path,
                         {{"email", "ghost@example.com"}, {"password", pw}, {"admin", true}},
                         "admin"));
  }
  cases.push_back({"two errors",
                   "POST",
                   "/v1/auth/signup",
                   R"({"email":1,"password":2})",
                   json_type,
                   400,
                   {"email", "password"}});
  run(cases);
  expect_nothing_stored();
  // None of the rejected sign-ups made the account: the address is still free.
  http_client c(daemon_->port());
  EXPECT_EQ(c.post("/v1/auth/signup", {{"email", "ghost@example.com"}, {"password", pw}}).status,
            201);
}

TEST_F(BadInput, Projects) {
  const std::string p = "/v1/projects";
  const std::string long_name(201, 'n');
  std::vector<bad_case> cases{
      post("name number", p, {{"name", 5}}, "name"),
      post("name bool", p, {{"name", true}}, "name"),
      post("name object", p, {{"name", {{"a", 1}}}}, "name"),
      post("no name", p, json::object(), "name"),
      post("null name", p, {{"name", nullptr}}, "name"),
      post("empty name", p, {{"name", ""}}, "name"),
      post("long name", p, {{"name", long_name}}, "name"),
      post("unknown field", p, {{"name", "x"}, {"color", "red"}}, "color"),
      post("settings string", p, {{"name", "x"}, {"settings", "fast"}}, "settings"),
      post("unknown setting", p, {{"name", "x"}, {"settings", {{"warp", 1}}}}, "settings.warp"),
      post("negative setting", p, {{"name", "x"}, {"settings", {{"ingest_burst", -1}}}},
           "settings.ingest_burst"),
      post("setting string", p, {{"name", "x"}, {"settings", {{"ingest_rate_per_second", "10"}}}},
           "settings.ingest_rate_per_second"),
      post("retention string", p, {{"name", "x"}, {"retention_days", "30"}}, "retention_days"),
      post("retention 0", p, {{"name", "x"}, {"retention_days", 0}}, "retention_days"),
      post("retention 3651", p, {{"name", "x"}, {"retention_days", 3651}}, "retention_days"),
  };
  for (const auto& [name, body, field] : std::vector<std::tuple<std::string, json, std::string>>{
           {"patch name number", {{"name", 5}}, "name"},
           {"patch empty name", {{"name", ""}}, "name"},
           {"patch long name", {{"name", long_name}}, "name"},
           {"patch unknown", {{"owner", "someone"}}, "owner"},
           {"patch retention fraction", {{"retention_days", 1.5}}, "retention_days"},
           {"patch settings list", {{"settings", {1, 2}}}, "settings"},
       }) {
    cases.push_back({name, "PATCH", base(), body.dump(), json_type, 400, {field}});
  }
  run(cases);
  expect_nothing_stored();
}

TEST_F(BadInput, Keys) {
  const std::string k = base() + "/keys";
  json scopes = {"manage"};
  run({
      post("name number", k, {{"name", 5}, {"scopes", scopes}}, "name"),
      post("no name", k, {{"scopes", scopes}}, "name"),
      post("empty name", k, {{"name", ""}, {"scopes", scopes}}, "name"),
      post("long name", k, {{"name", std::string(201, 'k')}, {"scopes", scopes}}, "name"),
      post("no scopes", k, {{"name", "k"}}, "scopes"),
      post("scopes string", k, {{"name", "k"}, {"scopes", "manage"}}, "scopes"),
      post("scopes empty", k, {{"name", "k"}, {"scopes", json::array()}}, "scopes"),
      post("scope unknown", k, {{"name", "k"}, {"scopes", {"admin"}}}, "scopes"),
      post("scope number", k, {{"name", "k"}, {"scopes", {5}}}, "scopes"),
      post("one bad scope", k, {{"name", "k"}, {"scopes", {"manage", "events:delete"}}}, "scopes"),
      post("unknown field", k, {{"name", "k"}, {"scopes", scopes}, {"expires_at", 1}},
           "expires_at"),
  });
  expect_nothing_stored();
}

TEST_F(BadInput, Consumers) {
  const std::string c = consumers();
  auto hook = [](json extra) {
    json spec{{"name", "c"}, {"kind", "webhook"}, {"url", hook_url}};
    for (const auto& [k, v] : extra.items()) spec[k] = v;
    return spec;
  };
  json tmpl{{"title", "{{data.title}}"}};
  std::vector<bad_case> cases{
      post("name number", c, hook({{"name", 5}}), "name"),
      post("empty name", c, hook({{"name", ""}}), "name"),
      post("long name", c, hook({{"name", std::string(201, 'c')}}), "name"),
      post("no name", c, {{"kind", "webhook"}, {"url", hook_url}}, "name"),
      post("kind number", c, hook({{"kind", 5}}), "kind"),
      post("kind unknown", c, hook({{"kind", "sms"}}), "kind"),
      post("no kind", c, {{"name", "c"}, {"url", hook_url}}, "kind"),
      post("url number", c, hook({{"url", 5}}), "url"),
      post("no url", c, {{"name", "c"}, {"kind", "webhook"}}, "url"),
      post("headers string", c, hook({{"headers", "X-A: 1"}}), "headers"),
      post("header value number", c, hook({{"headers", {{"X-A", 5}}}}), "headers.X-A"),
      post("header name space", c, hook({{"headers", {{"bad name", "v"}}}}), "headers"),
      post("header value CRLF", c, hook({{"headers", {{"X-A", "a\r\nX-B: b"}}}}), "headers.X-A"),
      post("settings string", c, hook({{"settings", "x"}}), "settings"),
      post("unknown field", c, hook({{"secret", "whsec_mine"}}), "secret"),
      post("push without template", c, {{"name", "c"}, {"kind", "push"}, {"url", hook_url}},
           "template"),
      post("email without template", c, {{"name", "c"}, {"kind", "email"}, {"url", hook_url}},
           "template"),
      post("push without url", c, {{"name", "c"}, {"kind", "push"}, {"template", tmpl}}, "url"),
      post("template on webhook", c, hook({{"template", tmpl}}), "template"),
      post("unclosed placeholder", c,
           {{"name", "c"},
            {"kind", "push"},
            {"url", hook_url},
            {"template", {{"t", "{{data.title"}}}},
           "template"),
      post("url on websocket", c, {{"name", "c"}, {"kind", "websocket"}, {"url", hook_url}}, "url"),
      post("headers on websocket", c,
           {{"name", "c"}, {"kind", "websocket"}, {"headers", {{"X-A", "1"}}}}, "headers"),
  };
  for (const std::string url :
       {"ftp://example.com/hook", "http://user:pass@example.com/", "not a url",
        "http://example.com:99999/", "", "https://", "example.com/hook", "javascript:alert(1)",
        "http://[::1/", "https://example.com/#frag"}) {
    cases.push_back(post("url '" + url + "'", c, hook({{"url", url}}), "url"));
  }
  for (const std::string name : {"Host", "Content-Length", "Transfer-Encoding", "Connection",
                                 "webhook-id", "Webhook-Signature", "WEBHOOK-TIMESTAMP"}) {
    cases.push_back(
        post("reserved " + name, c, hook({{"headers", {{name, "x"}}}}), "headers." + name));
  }
  json many = json::object();
  for (int i = 0; i < 33; ++i) many["X-H" + std::to_string(i)] = "v";
  cases.push_back(post("33 headers", c, hook({{"headers", many}}), "headers"));
  for (const auto& [settings, field] : std::vector<std::pair<json, std::string>>{
           {{{"max_in_flight", 0}}, "settings.max_in_flight"},
           {{{"max_in_flight", "10"}}, "settings.max_in_flight"},
           {{{"timeout_ms", 50}}, "settings.timeout_ms"},
           {{{"retry_schedule", json::array()}}, "settings.retry_schedule"},
           {{{"retry_schedule", {5, -1}}}, "settings.retry_schedule"},
           {{{"retry_schedule", "5,10"}}, "settings.retry_schedule"},
           {{{"fifo", "yes"}}, "settings.fifo"},
           {{{"rate_limit_per_second", -5}}, "settings.rate_limit_per_second"},
           {{{"warp", 9}}, "settings.warp"},
       }) {
    cases.push_back(post("settings " + settings.dump(), c, hook({{"settings", settings}}), field));
  }
  run(cases);
  expect_nothing_stored();
}

TEST_F(BadInput, ConsumerPatches) {
  const std::string hook = consumers() + "/" + consumer_;
  const std::string ws = consumers() + "/" + websocket_;
  std::vector<bad_case> cases;
  for (const auto& [path, body, field] : std::vector<std::tuple<std::string, json, std::string>>{
           {hook, {{"kind", "push"}}, "kind"},
           {hook, {{"kind", "websocket"}}, "kind"},
           {hook, {{"url", "ftp://example.com/"}}, "url"},
           {hook, {{"url", nullptr}}, "url"},
           {hook, {{"name", 5}}, "name"},
           {hook, {{"template", {{"a", "b"}}}}, "template"},
           {hook, {{"headers", {{"Host", "evil.example.com"}}}}, "headers.Host"},
           {hook, {{"settings", {{"max_in_flight", 5000}}}}, "settings.max_in_flight"},
           {hook, {{"status", "disabled"}}, "status"},
           {hook, {{"secret", "whsec_mine"}}, "secret"},
           {ws, {{"url", hook_url}}, "url"},
           {ws, {{"kind", "webhook"}}, "kind"},
       }) {
    cases.push_back({"PATCH " + body.dump(), "PATCH", path, body.dump(), json_type, 400, {field}});
  }
  run(cases);
  expect_nothing_stored();
}

TEST_F(BadInput, Subscriptions) {
  const std::string s = subscriptions();
  auto sub = [this_consumer = consumer_](const json& pattern, const json& filter = nullptr) {
    json spec{{"consumer_id", this_consumer}, {"pattern", pattern}};
    if (!filter.is_null()) spec["filter"] = filter;
    return spec;
  };
  std::vector<bad_case> cases{
      post("consumer_id number", s, {{"consumer_id", 5}, {"pattern", ">"}}, "consumer_id"),
      post("consumer_id not an id", s, {{"consumer_id", "nope"}, {"pattern", ">"}}, "consumer_id"),
      post("consumer_id of a project", s, {{"consumer_id", project_}, {"pattern", ">"}},
           "consumer_id"),
      post("no consumer_id", s, {{"pattern", ">"}}, "consumer_id"),
      post("no pattern", s, {{"consumer_id", consumer_}}, "pattern"),
      post("pattern number", s, sub(5), "pattern"),
      post("pattern list", s, sub({"a", "b"}), "pattern"),
      post("unknown field", s, {{"consumer_id", consumer_}, {"pattern", ">"}, {"queue", "q"}},
           "queue"),
  };
  std::string seventeen = "t";
  for (int i = 1; i < 17; ++i) seventeen += ".t";
  for (const auto& pattern :
       {std::string(), std::string("a..b"), std::string("a.>.b"), std::string("a*"), seventeen,
        std::string(256, 'a'), std::string(".a"), std::string("a."), std::string("a b"),
        std::string(">.a"), std::string("a.**")}) {
    cases.push_back(post("pattern '" + pattern.substr(0, 40) + "'", s, sub(pattern), "pattern"));
  }
  for (const auto& filter : std::vector<json>{
           "amount > 5",
           json::array({1}),
           {{"data.amount", {{"$between", {1, 2}}}}},
           {{"data.tier", {{"$in", "gold"}}}},
           {{"data.tier", {{"$nin", 5}}}},
           {{"$and", json::object()}},
           {{"$or", json::array()}},
           {{"$where", "1"}},
           {{"data.amount", {{"$gt", {1}}}}},
           {{"data.user", {{"$exists", "yes"}}}},
           {{"data.name", {{"$prefix", 5}}}},
           {{"data.amount", {{"$gte", 1}, {"plain", 2}}}},
       }) {
    cases.push_back(post("filter " + filter.dump(), s, sub(">", filter), "filter"));
  }
  run(cases);
  // A sound body naming a consumer that does not exist: 422, still nothing stored.
  run({{"unknown consumer",
        "POST",
        s,
        json{{"consumer_id", unknown_consumer}, {"pattern", ">"}}.dump(),
        json_type,
        422,
        {"consumer_id"}}});
  expect_nothing_stored();
}

TEST_F(BadInput, ListQueryParameters) {
  std::vector<bad_case> cases;
  const std::vector<std::pair<std::string, std::string>> lists{{"/v1/projects", "con"},
                                                               {base() + "/keys", "prj"},
                                                               {consumers(), "sub"},
                                                               {subscriptions(), "key"}};
  for (const auto& [path, other_prefix] : lists) {
    for (const std::string limit : {"0", "201", "x", "-1", "1.5", "2x", "99999999999999999999"}) {
      cases.push_back({"limit " + limit, "GET", path + "?limit=" + limit, "", "", 400, {"limit"}});
    }
    // A cursor is an id of the listed kind; anything else is refused, not silently ignored.
    for (const auto& cursor : {std::string("abc"), other_prefix + "_01ARZ3NDEKTSV4RRFFQ69G5FAV",
                               std::string("%27%20OR%201%3D1%20--")}) {
      cases.push_back(
          {"cursor " + cursor, "GET", path + "?cursor=" + cursor, "", "", 400, {"cursor"}});
    }
  }
  cases.push_back({"consumer_id filter",
                   "GET",
                   subscriptions() + "?consumer_id=nope",
                   "",
                   "",
                   400,
                   {"consumer_id"}});
  run(cases);
  expect_nothing_stored();
}

// The body limit is enforced before the body is buffered: 413, and nothing is stored.
TEST(BadInputBodyLimit, OversizedBodyIs413) {
  test::daemon_options opts;
  opts.env["PSIG_HTTP_MAX_BODY_BYTES"] = "65536";
  test::daemon_process daemon(opts);
  {
    // Just under the limit the body is read and validated: the limit is what refuses the next one.
    http_client c(daemon.port());
    c.set_token(daemon.admin_token());
    const auto r =
        c.post("/v1/projects", {{"name", "small"}, {"pad", std::string(60 * 1024, 'a')}});
    expect_error(r, 400, "validation_failed");
    EXPECT_TRUE(names_field(r, "pad"));
  }
  {
    http_client c(daemon.port());
    c.set_token(daemon.admin_token());
    json big{{"name", "big"}, {"pad", std::string(100 * 1024, 'a')}};
    const auto r = c.request_raw("POST", "/v1/projects", big.dump(), json_type);
    expect_error(r, 413);
    EXPECT_TRUE(names_field(r, "body"));
  }
  http_client c(daemon.port());
  c.set_token(daemon.admin_token());
  json list = expect_status(c.get("/v1/projects"), 200, "list projects");
  EXPECT_TRUE(list["data"].empty()) << list;
}

}  // namespace
}  // namespace psig::e2e
