// The management API end to end (DESIGN §7): accounts, projects, API keys and their scopes,
// cursor paging and project deletion, against the real daemon, the way an operator drives it.
// Consumers and subscriptions in detail: consumer_flow_test.cpp.
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/e2e_helpers.hpp"
#include "support/daemon.hpp"
#include "support/http_client.hpp"

namespace psig::e2e {
namespace {

// psk_<prefix>_<secret>; the secret part is at least 32 alphanumerics (> 190 bits).
bool is_api_key(const json& value) {
  static const std::regex shape("psk_[a-z0-9]{8,}_[A-Za-z0-9]{32,}");
  return value.is_string() && std::regex_match(value.get<std::string>(), shape);
}

bool contains_id(const json& list_body, const std::string& id) {
  if (!list_body.is_object() || !list_body.contains("data")) return false;
  for (const auto& item : list_body.at("data")) {
    if (item.is_object() && item.value("id", "") == id) return true;
  }
  return false;
}

class ManagementFlow : public operator_suite<ManagementFlow> {};

TEST_F(ManagementFlow, SignupLoginAndMe) {
  http_client c(port());
  const auto signup =
      c.post("/v1/auth/signup", {{"email", "alice@example.com"}, {"password", default_password}});
  ASSERT_EQ(signup.status, 201) << signup.body;
  json s = signup.json();
  ASSERT_TRUE(s["account"].is_object()) << signup.body;
  const std::string id = s["account"].value("id", "");
  EXPECT_TRUE(is_id("acc", id)) << id;
  EXPECT_EQ(s["account"]["email"], "alice@example.com");
  ASSERT_TRUE(s["token"].is_string() && !s["token"].get<std::string>().empty()) << signup.body;
  EXPECT_EQ(signup.body.find("pbkdf2"), std::string::npos) << "the password hash leaked";

  const auto login =
      c.post("/v1/auth/login", {{"email", "alice@example.com"}, {"password", default_password}});
  ASSERT_EQ(login.status, 200) << login.body;
  EXPECT_EQ(login.json()["account"]["id"], id);
  EXPECT_EQ(login.json()["account"]["email"], "alice@example.com");
  EXPECT_NE(login.json()["token"], s["token"]) << "each login starts its own session";

  // A wrong password and an unknown e-mail must be indistinguishable (no account probing).
  const auto wrong =
      c.post("/v1/auth/login", {{"email", "alice@example.com"}, {"password", "wrong password!"}});
  expect_error(wrong, 401);
  const auto unknown =
      c.post("/v1/auth/login", {{"email", "nobody@example.com"}, {"password", default_password}});
  expect_error(unknown, 401);
  EXPECT_EQ(wrong.json()["error"]["code"], unknown.json()["error"]["code"]);
  EXPECT_EQ(wrong.json()["error"]["message"], unknown.json()["error"]["message"]);

  for (const char* email : {"alice@example.com", "ALICE@Example.com"}) {
    SCOPED_TRACE(email);
    const auto dup =
        c.post("/v1/auth/signup", {{"email", email}, {"password", "another password"}});
    expect_error(dup, 409);
    EXPECT_TRUE(names_field(dup, "email"));
  }

  for (const auto& token :
       {s["token"].get<std::string>(), login.json()["token"].get<std::string>()}) {
    c.set_token(token);
    const auto me = c.get("/v1/me");
    ASSERT_EQ(me.status, 200) << me.body;
    EXPECT_EQ(me.json()["account"]["id"], id);
    EXPECT_EQ(me.json()["account"]["email"], "alice@example.com");
  }

  c.set_token(daemon_->admin_token());
  const auto admin_me = c.get("/v1/me");
  ASSERT_EQ(admin_me.status, 200) << admin_me.body;
  EXPECT_EQ(admin_me.json()["admin"], true);

  c.set_token(s["token"].get<std::string>());
  json project = create_project(c, "me-test");
  json key = create_key(c, id_of(project), {"events:read"});
  http_client k(port());
  k.set_token(key["key"].get<std::string>());
  const auto key_me = k.get("/v1/me");
  ASSERT_EQ(key_me.status, 200) << key_me.body;
  EXPECT_EQ(key_me.json()["api_key"]["id"], key["id"]);
  EXPECT_EQ(key_me.json()["api_key"]["project_id"], project["id"]);
  EXPECT_EQ(key_me.json()["api_key"]["scopes"], json({"events:read"}));

  http_client anonymous(port());
  expect_error(anonymous.get("/v1/me"), 401);
}

TEST_F(ManagementFlow, ProjectLifecycle) {
  const auto created = ops().post("/v1/projects", {{"name", "Shop"}});
  ASSERT_EQ(created.status, 201) << created.body;
  json p = created.json();
  const std::string id = p.value("id", "");
  ASSERT_TRUE(is_id("prj", id)) << created.body;
  EXPECT_EQ(p["name"], "Shop");
  EXPECT_TRUE(unix_seconds(p["created_at"])) << created.body;

  const auto got = ops().get(project_path(id));
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.json()["id"], id);
  EXPECT_EQ(got.json()["name"], "Shop");
  EXPECT_TRUE(contains_id(ops().get("/v1/projects?limit=200").json(), id));

  json patch{{"name", "Shop 2"},
             {"retention_days", 7},
             {"settings", {{"ingest_rate_per_second", 100}, {"ingest_burst", 200}}}};
  const auto patched = ops().patch(project_path(id), patch);
  ASSERT_EQ(patched.status, 200) << patched.body;
  for (const auto* field : {"name", "retention_days", "settings"}) {
    EXPECT_EQ(patched.json()[field], patch[field]) << field;
    EXPECT_EQ(ops().get(project_path(id)).json()[field], patch[field]) << field;
  }

  // The bootstrap admin token sees every account's projects.
  http_client admin(port());
  admin.set_token(daemon_->admin_token());
  EXPECT_EQ(admin.get(project_path(id)).status, 200);

  const auto deleted = ops().del(project_path(id));
  EXPECT_EQ(deleted.status, 204) << deleted.body;
  expect_error(ops().get(project_path(id)), 404, "not_found");
  expect_error(ops().del(project_path(id)), 404, "not_found");
  EXPECT_FALSE(contains_id(ops().get("/v1/projects?limit=200").json(), id));
}

TEST_F(ManagementFlow, ApiKeyIsShownOnceAndRevokedAtOnce) {
  const std::string p = id_of(create_project(ops(), "keys"));
  const auto created = ops().post(project_path(p) + "/keys",
                                  {{"name", "ingest"}, {"scopes", {"events:write", "manage"}}});
  ASSERT_EQ(created.status, 201) << created.body;
  json k = created.json();
  const std::string key_id = k.value("id", "");
  EXPECT_TRUE(is_id("key", key_id)) << created.body;
  ASSERT_TRUE(is_api_key(k["key"])) << created.body;
  EXPECT_EQ(k["scopes"], json({"events:write", "manage"}));
  const std::string key = k.value("key", "");
  const std::string secret_part = key.substr(key.rfind('_') + 1);

  const auto list = ops().get(project_path(p) + "/keys");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_TRUE(contains_id(list.json(), key_id));
  json listed = list.json();
  for (const auto& item : listed["data"]) EXPECT_FALSE(item.contains("key")) << item;
  EXPECT_EQ(list.body.find(secret_part), std::string::npos) << "the key secret is shown again";
  EXPECT_EQ(ops().get(project_path(p)).body.find(secret_part), std::string::npos);

  http_client with_key(port());
  with_key.set_token(key);
  EXPECT_EQ(with_key.get("/v1/me").status, 200);
  EXPECT_EQ(with_key.get(project_path(p) + "/consumers").status, 200);

  EXPECT_EQ(ops().del(project_path(p) + "/keys/" + key_id).status, 204);
  // Revocation takes effect on the very next request.
  expect_error(with_key.get("/v1/me"), 401);
  expect_error(with_key.get(project_path(p) + "/consumers"), 401);
  bool revoked_listed = false;
  json after_revoke = ops().get(project_path(p) + "/keys").json();
  for (const auto& item : after_revoke["data"]) {
    if (item.value("id", "") == key_id)
      revoked_listed = item.value("revoked_at", json()).is_string();
  }
  EXPECT_TRUE(revoked_listed) << "a revoked key is listed with its revoked_at";

  expect_error(ops().del(project_path(p) + "/keys/key_01ARZ3NDEKTSV4RRFFQ69G5FAV"), 404);
  expect_error(ops().del(project_path(p) + "/keys/not-a-key"), 404);
}

TEST_F(ManagementFlow, ManageKeyManagesItsProjectButNotProjects) {
  const std::string p = id_of(create_project(ops(), "scoped"));
  http_client m(port());
  m.set_token(create_key(ops(), p, {"manage"})["key"].get<std::string>());
  const std::string base = project_path(p);

  json c = create_consumer(m, p, webhook_spec("by-key"));
  EXPECT_EQ(m.get(base + "/consumers").status, 200);
  EXPECT_EQ(m.get(base + "/consumers/" + c["id"].get<std::string>()).status, 200);
  EXPECT_EQ(
      m.patch(base + "/consumers/" + c["id"].get<std::string>(), {{"name", "renamed"}}).status,
      200);
  json s = create_subscription(m, p, id_of(c), "order.>");
  EXPECT_EQ(m.get(base + "/subscriptions").status, 200);
  EXPECT_EQ(m.del(base + "/subscriptions/" + s["id"].get<std::string>()).status, 204);
  EXPECT_EQ(m.post(base + "/consumers/" + c["id"].get<std::string>() + "/rotate-secret").status,
            200);
  EXPECT_EQ(m.post(base + "/consumers/" + c["id"].get<std::string>() + "/disable").status, 200);
  EXPECT_EQ(m.del(base + "/consumers/" + c["id"].get<std::string>()).status, 204);
  EXPECT_EQ(m.get(base).status, 200) << "a manage key may read its own project";

  // Project-level changes and the project list belong to accounts.
  expect_error(m.patch(base, {{"name", "taken over"}}), 403, "forbidden");
  expect_error(m.del(base), 403, "forbidden");
  expect_error(m.post("/v1/projects", {{"name", "by key"}}), 403, "forbidden");
  expect_error(m.get("/v1/projects"), 403, "forbidden");
  EXPECT_EQ(ops().get(base).json()["name"], "scoped");

  http_client w(port());
  w.set_token(
      create_key(ops(), p, {"events:write", "events:read", "ws"})["key"].get<std::string>());
  const std::string existing = id_of(create_consumer(ops(), p, webhook_spec("kept")));
  expect_error(w.get(base + "/consumers"), 403, "forbidden");
  expect_error(w.post(base + "/consumers", webhook_spec("nope")), 403, "forbidden");
  expect_error(w.get(base + "/consumers/" + existing), 403, "forbidden");
  expect_error(w.post(base + "/consumers/" + existing + "/disable"), 403, "forbidden");
  expect_error(w.post(base + "/subscriptions", {{"consumer_id", existing}, {"pattern", ">"}}), 403,
               "forbidden");
  expect_error(w.get(base + "/subscriptions"), 403, "forbidden");
  expect_error(w.get(base + "/keys"), 403, "forbidden");
  EXPECT_EQ(ops().get(base + "/consumers/" + existing).json()["status"], "enabled");
  EXPECT_EQ(ops().get(base + "/subscriptions").json()["data"].size(), 0u);
}

TEST_F(ManagementFlow, CursorPaginationOnEveryList) {
  // A fresh account, so that its project list holds exactly what this test made.
  http_client c(port());
  c.set_token(sign_up(c, "pager@example.com").token);
  std::vector<std::string> projects, keys, consumers, subscriptions;
  for (int i = 0; i < 5; ++i) projects.push_back(id_of(create_project(c, "p" + std::to_string(i))));
  const std::string p = projects.front();
  for (int i = 0; i < 5; ++i) {
    keys.push_back(id_of(create_key(c, p, {"events:write"}, "k" + std::to_string(i))));
    consumers.push_back(
        id_of(create_consumer(c, p, {{"name", "c" + std::to_string(i)}, {"kind", "websocket"}})));
    subscriptions.push_back(
        id_of(create_subscription(c, p, consumers.front(), "t" + std::to_string(i) + ".>")));
  }
  const std::vector<std::pair<std::string, std::vector<std::string>>> lists{
      {"/v1/projects", projects},
      {project_path(p) + "/keys", keys},
      {project_path(p) + "/consumers", consumers},
      {project_path(p) + "/subscriptions", subscriptions},
  };
  for (const auto& [path, created] : lists) {
    SCOPED_TRACE(path);
    const auto walked = list_all(c, path, 2);
    EXPECT_EQ(walked.page_sizes, (std::vector<std::size_t>{2, 2, 1}));
    const auto ids = walked.ids();
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()),
              std::set<std::string>(created.begin(), created.end()));
    for (const char* query : {"", "?limit=200"}) {
      json whole = expect_status(c.get(path + query), 200, path + query);
      EXPECT_EQ(whole["data"].size(), 5u) << query;
      EXPECT_TRUE(whole["next_cursor"].is_null()) << query;
    }
    // The last id as a cursor: an empty page, not an error.
    json after = expect_status(c.get(path + "?cursor=" + ids.back()), 200, "after the end");
    EXPECT_TRUE(after["data"].empty()) << after;
    EXPECT_TRUE(after["next_cursor"].is_null()) << after;
  }
}

TEST_F(ManagementFlow, DeletedProjectAnswers404Everywhere) {
  const std::string p = id_of(create_project(ops(), "doomed"));
  json key = create_key(ops(), p, {"manage"});
  const std::string c = id_of(create_consumer(ops(), p, webhook_spec("doomed")));
  const std::string s = id_of(create_subscription(ops(), p, c, ">"));
  ASSERT_EQ(ops().del(project_path(p)).status, 204);

  const std::string base = project_path(p);
  json consumer_body = webhook_spec("again");
  const std::vector<std::tuple<std::string, std::string, json>> routes{
      {"GET", base, nullptr},
      {"PATCH", base, {{"name", "back"}}},
      {"DELETE", base, nullptr},
      {"POST", base + "/keys", {{"name", "k"}, {"scopes", {"manage"}}}},
      {"GET", base + "/keys", nullptr},
      {"DELETE", base + "/keys/" + key["id"].get<std::string>(), nullptr},
      {"POST", base + "/consumers", consumer_body},
      {"GET", base + "/consumers", nullptr},
      {"GET", base + "/consumers/" + c, nullptr},
      {"PATCH", base + "/consumers/" + c, {{"name", "x"}}},
      {"DELETE", base + "/consumers/" + c, nullptr},
      {"POST", base + "/consumers/" + c + "/rotate-secret", nullptr},
      {"POST", base + "/consumers/" + c + "/enable", nullptr},
      {"POST", base + "/consumers/" + c + "/disable", nullptr},
      {"POST", base + "/subscriptions", {{"consumer_id", c}, {"pattern", ">"}}},
      {"GET", base + "/subscriptions", nullptr},
      {"GET", base + "/subscriptions/" + s, nullptr},
      {"DELETE", base + "/subscriptions/" + s, nullptr},
  };
  for (const auto& [method, path, body] : routes) {
    SCOPED_TRACE(method + " " + path);
    expect_error(ops().request(method, path, body), 404, "not_found");
  }
  // The project's keys went with it.
  http_client k(port());
  k.set_token(key["key"].get<std::string>());
  expect_error(k.get("/v1/me"), 401);
}

// Signup can be turned off (DESIGN §7); the admin token still works then.
TEST(ManagementSignupDisabled, SignupIsForbidden) {
  test::daemon_options opts;
  opts.env["PSIG_SIGNUP_ENABLED"] = "false";
  test::daemon_process daemon(opts);
  http_client c(daemon.port());
  const auto r =
      c.post("/v1/auth/signup", {{"email", "late@example.com"}, {"password", default_password}});
  expect_error(r, 403);
  expect_error(
      c.post("/v1/auth/login", {{"email", "late@example.com"}, {"password", default_password}}),
      401);
  c.set_token(daemon.admin_token());
  EXPECT_EQ(c.post("/v1/projects", {{"name", "by admin"}}).status, 201);
}

}  // namespace
}  // namespace psig::e2e
