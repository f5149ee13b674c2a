// Tenant isolation (DESIGN §4, §7): another tenant's resources answer exactly like resources that
// do not exist — 404, never 403 or 200 — whatever credential is used, and nothing of theirs
// changes. Missing or forged credentials are 401.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/e2e_helpers.hpp"
#include "support/daemon.hpp"
#include "support/http_client.hpp"

namespace psig::e2e {
namespace {

constexpr const char* missing_project = "prj_01ARZ3NDEKTSV4RRFFQ69G5FAV";

struct tenant {
  account owner;
  std::string project;
  std::string project_name;
  std::string key_id;
  std::string key;  // all scopes
  std::string consumer;
  std::string consumer_url;
  std::string consumer_secret;
  std::string subscription;
};

struct route {
  std::string method;
  std::string path;
  json body;  // null: no body
};

// Every project-scoped management route, aimed at `t`'s resources under `project`.
std::vector<route> routes_of(const tenant& t, const std::string& project) {
  const std::string base = project_path(project);
  const std::string consumer = base + "/consumers/" + t.consumer;
  return {
      {"GET", base, nullptr},
      {"PATCH", base, {{"name", "hijacked"}}},
      {"DELETE", base, nullptr},
      {"POST", base + "/keys", {{"name", "stolen"}, {"scopes", {"manage"}}}},
      {"GET", base + "/keys", nullptr},
      {"DELETE", base + "/keys/" + t.key_id, nullptr},
      {"POST", base + "/consumers", webhook_spec("intruder", "https://evil.example.com/")},
      {"GET", base + "/consumers", nullptr},
      {"GET", consumer, nullptr},
      {"PATCH", consumer, {{"url", "https://evil.example.com/"}}},
      {"DELETE", consumer, nullptr},
      {"POST", consumer + "/rotate-secret", nullptr},
      {"POST", consumer + "/enable", nullptr},
      {"POST", consumer + "/disable", nullptr},
      {"POST", base + "/subscriptions", {{"consumer_id", t.consumer}, {"pattern", ">"}}},
      {"GET", base + "/subscriptions", nullptr},
      {"GET", base + "/subscriptions/" + t.subscription, nullptr},
      {"DELETE", base + "/subscriptions/" + t.subscription, nullptr},
      {"POST", base + "/events", {{"type", "order.created"}, {"data", {{"n", 1}}}}},
      {"POST", base + "/events/batch", {{"events", {{{"type", "order.created"}, {"data", 1}}}}}},
      {"GET", base + "/events", nullptr},
      {"GET", base + "/deliveries", nullptr},
      {"POST", base + "/deliveries/bulk-retry", {{"confirm", true}}},
      {"POST", base + "/ws-tokens", {{"user", "u1"}, {"patterns", {">"}}}},
  };
}

// The routes that name a sub-resource of `victim` under the attacker's own project: ids are
// scoped by project, so they must be unknown there too.
std::vector<route> foreign_ids_under(const tenant& victim, const std::string& own_project) {
  const std::string base = project_path(own_project);
  const std::string consumer = base + "/consumers/" + victim.consumer;
  return {
      {"DELETE", base + "/keys/" + victim.key_id, nullptr},
      {"GET", consumer, nullptr},
      {"PATCH", consumer, {{"url", "https://evil.example.com/"}}},
      {"DELETE", consumer, nullptr},
      {"POST", consumer + "/rotate-secret", nullptr},
      {"POST", consumer + "/enable", nullptr},
      {"POST", consumer + "/disable", nullptr},
      {"GET", base + "/subscriptions/" + victim.subscription, nullptr},
      {"DELETE", base + "/subscriptions/" + victim.subscription, nullptr},
  };
}

class Tenancy : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    daemon_ = std::make_unique<test::daemon_process>();
    a_ = make_tenant("a");
    b_ = make_tenant("b");
    http_client c(daemon_->port());
    c.set_token(a_.owner.token);
    for (const auto& path : snapshot_paths()) {
      a_snapshot_.push_back(expect_status(c.get(path), 200, "snapshot " + path));
    }
  }
  static void TearDownTestSuite() { daemon_.reset(); }
  void SetUp() override {
    ASSERT_TRUE(daemon_ && daemon_->running()) << "the daemon did not start";
    ASSERT_EQ(a_snapshot_.size(), snapshot_paths().size()) << "the tenants were not set up";
  }

  static tenant make_tenant(const std::string& name) {
    http_client c(daemon_->port());
    tenant t;
    t.owner = sign_up(c, name + "@example.com");
    c.set_token(t.owner.token);
    t.project_name = "project of " + name;
    t.project = id_of(create_project(c, t.project_name));
    json key = create_key(c, t.project, {"events:write", "events:read", "manage", "ws"});
    t.key_id = id_of(key);
    t.key = key.at("key").get<std::string>();
    t.consumer_url = "https://" + name + ".example.com/hook";
    json consumer = create_consumer(c, t.project,
                                    {{"name", "hook"},
                                     {"kind", "webhook"},
                                     {"url", t.consumer_url},
                                     {"headers", {{"X-Tenant", name}}}});
    t.consumer = id_of(consumer);
    t.consumer_secret = consumer.at("secret").get<std::string>();
    t.subscription = id_of(create_subscription(c, t.project, t.consumer, "order.>"));
    return t;
  }

  static std::vector<std::string> snapshot_paths() {
    const std::string base = project_path(a_.project);
    return {base,
            base + "/keys",
            base + "/consumers",
            base + "/consumers/" + a_.consumer,
            base + "/subscriptions",
            base + "/subscriptions/" + a_.subscription};
  }

  // A's resources exactly as they were after set-up: nothing deleted, renamed, rotated, disabled
  // or added, and A's key still works.
  static void expect_a_unchanged() {
    http_client c(daemon_->port());
    c.set_token(a_.owner.token);
    const auto paths = snapshot_paths();
    for (std::size_t i = 0; i < paths.size(); ++i) {
      const auto r = c.get(paths[i]);
      EXPECT_EQ(r.status, 200) << paths[i] << " " << r.body;
      if (r.status == 200) {
        EXPECT_EQ(r.json(), a_snapshot_[i]) << paths[i] << " changed";
      }
    }
    http_client k(daemon_->port());
    k.set_token(a_.key);
    EXPECT_EQ(k.get("/v1/me").status, 200) << "A's key stopped working";
  }

  // `r` is a 404 that gives nothing of A's away and reads like the 404 of a missing project.
  static void expect_hidden(const http_reply& r, const http_reply& missing) {
    expect_error(r, 404, "not_found");
    for (const auto& secret :
         {a_.project_name, a_.consumer_url, a_.consumer_secret, a_.owner.email}) {
      EXPECT_EQ(r.body.find(secret), std::string::npos) << "leaks " << secret << ": " << r.body;
    }
    if (r.status == 404 && missing.status == 404) {
      EXPECT_EQ(r.json()["error"]["message"], missing.json()["error"]["message"])
          << "a foreign project must read like a missing one";
    }
  }

  static void attack_with(const std::string& token) {
    http_client c(daemon_->port());
    c.set_token(token);
    const auto routes = routes_of(a_, a_.project);
    const auto missing = routes_of(a_, missing_project);
    for (std::size_t i = 0; i < routes.size(); ++i) {
      SCOPED_TRACE(routes[i].method + " " + routes[i].path);
      const auto r = c.request(routes[i].method, routes[i].path, routes[i].body);
      const auto m = c.request(missing[i].method, missing[i].path, missing[i].body);
      expect_hidden(r, m);
    }
  }

  inline static std::unique_ptr<test::daemon_process> daemon_;
  inline static tenant a_, b_;
  inline static std::vector<json> a_snapshot_;
};

TEST_F(Tenancy, AnotherAccountsSessionSees404) {
  attack_with(b_.owner.token);
  expect_a_unchanged();
}

TEST_F(Tenancy, AnotherProjectsApiKeySees404) {
  attack_with(b_.key);
  expect_a_unchanged();
}

TEST_F(Tenancy, ForeignIdsUnderOwnProjectAre404) {
  for (const auto& token : {b_.owner.token, b_.key}) {
    http_client c(daemon_->port());
    c.set_token(token);
    for (const auto& r : foreign_ids_under(a_, b_.project)) {
      SCOPED_TRACE(r.method + " " + r.path);
      const auto reply = c.request(r.method, r.path, r.body);
      expect_error(reply, 404, "not_found");
      EXPECT_EQ(reply.body.find(a_.consumer_secret), std::string::npos) << reply.body;
    }
  }
  expect_a_unchanged();
}

TEST_F(Tenancy, ForeignConsumerCannotBeSubscribed) {
  for (const auto& token : {b_.owner.token, b_.key}) {
    http_client c(daemon_->port());
    c.set_token(token);
    const auto r = c.post(project_path(b_.project) + "/subscriptions",
                          {{"consumer_id", a_.consumer}, {"pattern", ">"}});
    expect_error(r, 422);
    EXPECT_TRUE(names_field(r, "consumer_id"));
    json mine = expect_status(c.get(project_path(b_.project) + "/subscriptions"), 200, "list");
    ASSERT_EQ(mine["data"].size(), 1u) << mine;
    EXPECT_EQ(mine["data"][0]["id"], b_.subscription);
    json filtered = expect_status(
        c.get(project_path(b_.project) + "/subscriptions?consumer_id=" + a_.consumer), 200, "list");
    EXPECT_TRUE(filtered["data"].empty()) << filtered;
  }
  expect_a_unchanged();
}

TEST_F(Tenancy, ProjectListsShowOwnProjectsOnly) {
  for (const auto* t : {&a_, &b_}) {
    http_client c(daemon_->port());
    c.set_token(t->owner.token);
    json list = expect_status(c.get("/v1/projects"), 200, "list projects");
    ASSERT_EQ(list["data"].size(), 1u) << list;
    EXPECT_EQ(list["data"][0]["id"], t->project);
  }
  http_client admin(daemon_->port());
  admin.set_token(daemon_->admin_token());
  json all = expect_status(admin.get("/v1/projects"), 200, "admin list");
  EXPECT_EQ(all["data"].size(), 2u) << all;
  expect_a_unchanged();
}

TEST_F(Tenancy, MissingOrForgedCredentialsAre401) {
  // A's own key and session with one character changed: right shape and key prefix, wrong
  // secret, so the hash comparison (not the lookup) must refuse them.
  std::string forged_key = a_.key;
  forged_key.back() = forged_key.back() == 'a' ? 'b' : 'a';
  std::string forged_session = a_.owner.token;
  forged_session.back() = forged_session.back() == 'a' ? 'b' : 'a';
  const std::vector<std::string> authorizations{
      "",  // no header at all
      "Bearer",
      "Bearer ",
      "Bearer not-a-token",
      "Bearer psk_short",
      "Bearer pst_unknown",
      "Bearer " + forged_key,
      "Bearer " + forged_session,
      "Basic " + a_.key,
      a_.key,  // no scheme
  };
  http_client c(daemon_->port());
  for (const auto& r : routes_of(a_, a_.project)) {
    for (const auto& authorization : authorizations) {
      SCOPED_TRACE(r.method + " " + r.path + " with '" + authorization + "'");
      std::vector<std::pair<std::string, std::string>> headers;
      if (!authorization.empty()) headers.emplace_back("Authorization", authorization);
      const auto reply = c.request(r.method, r.path, r.body, headers);
      expect_error(reply, 401);
      EXPECT_TRUE(reply.header("www-authenticate").has_value()) << "RFC 6750: a 401 names Bearer";
    }
  }
  expect_a_unchanged();
}

}  // namespace
}  // namespace psig::e2e
