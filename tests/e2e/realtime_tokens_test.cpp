// Client tokens for the WebSocket gateway (DESIGN §7, §9): POST /v1/projects/{p}/ws-tokens
// issues an HS256 JWT under the project's realtime secret, for one websocket consumer.
#include <cstdint>
#include <ctime>
#include <string>
#include <variant>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/e2e_helpers.hpp"
#include "psig/domain/client_token.hpp"
#include "support/daemon.hpp"
#include "support/http_client.hpp"

namespace psig::e2e {
namespace {

json websocket_spec(const std::string& name) {
  return {{"name", name}, {"kind", "websocket"}};
}

std::string tokens_path(const std::string& project_id) {
  return project_path(project_id) + "/ws-tokens";
}

std::int64_t unix_now() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

class RealtimeTokens : public operator_suite<RealtimeTokens> {
 protected:
  // A project with one websocket consumer.
  std::string project_with_app(const std::string& name) {
    const std::string p = id_of(create_project(ops(), name));
    app_ = id_of(create_consumer(ops(), p, websocket_spec("app")));
    return p;
  }
  std::string secret_of(const std::string& project_id) {
    return expect_status(ops().get(project_path(project_id)), 200, "get project")
        .at("realtime_secret")
        .get<std::string>();
  }
  std::string app_;
};

TEST_F(RealtimeTokens, IssuesATokenSignedWithTheRealtimeSecret) {
  const std::string p = project_with_app("rt-issue");
  const auto before = unix_now();
  const auto r = ops().post(tokens_path(p), {{"user", "user-1"},
                                             {"patterns", {"chat.message.*", "presence.>"}},
                                             {"publish", {"typing.*"}},
                                             {"ttl", 600}});
  ASSERT_EQ(r.status, 201) << r.body;
  const auto after = unix_now();
  EXPECT_EQ(r.header("cache-control"), "no-store");
  const json body = r.json();
  ASSERT_TRUE(body["token"].is_string()) << r.body;
  EXPECT_EQ(body["consumer_id"], app_);
  const auto expires_at = unix_seconds(body["expires_at"]);
  ASSERT_TRUE(expires_at) << r.body;
  EXPECT_GE(*expires_at, before + 600);
  EXPECT_LE(*expires_at, after + 600);

  const std::string token = body["token"].get<std::string>();
  const std::string secret = secret_of(p);
  EXPECT_EQ(domain::token_project(token), p);
  auto verified = domain::verify_client_token(token, secret, unix_now());
  ASSERT_TRUE(std::holds_alternative<domain::client_claims>(verified))
      << domain::to_string(std::get<domain::token_error>(verified));
  const auto claims = std::get<domain::client_claims>(verified);
  EXPECT_EQ(claims.user, "user-1");
  EXPECT_EQ(claims.patterns, (std::vector<std::string>{"chat.message.*", "presence.>"}));
  EXPECT_EQ(claims.publish, std::vector<std::string>{"typing.*"});
  EXPECT_EQ(claims.consumer_id, app_);
  EXPECT_EQ(claims.project_id, p);
  EXPECT_EQ(claims.expires_at, *expires_at);
  EXPECT_GE(claims.issued_at, before);
  EXPECT_LE(claims.issued_at, after);

  // It expires when it says, and only this project's secret verifies it.
  verified = domain::verify_client_token(token, secret, *expires_at);
  ASSERT_TRUE(std::holds_alternative<domain::token_error>(verified));
  EXPECT_EQ(std::get<domain::token_error>(verified), domain::token_error::expired);
  const std::string other = id_of(create_project(ops(), "rt-issue-other"));
  verified = domain::verify_client_token(token, secret_of(other), unix_now());
  ASSERT_TRUE(std::holds_alternative<domain::token_error>(verified));
  EXPECT_EQ(std::get<domain::token_error>(verified), domain::token_error::bad_signature);
}

TEST_F(RealtimeTokens, DefaultsAndBounds) {
  const std::string p = project_with_app("rt-defaults");
  const auto before = unix_now();
  const auto r = ops().post(tokens_path(p), {{"user", "u"}, {"patterns", {">"}}});
  ASSERT_EQ(r.status, 201) << r.body;
  const auto expires_at = unix_seconds(r.json()["expires_at"]);
  ASSERT_TRUE(expires_at);
  EXPECT_GE(*expires_at, before + 3600) << "ttl defaults to an hour";
  EXPECT_LE(*expires_at, unix_now() + 3600);
  auto verified = domain::verify_client_token(r.json()["token"].get<std::string>(), secret_of(p),
                                              unix_now());
  ASSERT_TRUE(std::holds_alternative<domain::client_claims>(verified));
  EXPECT_TRUE(std::get<domain::client_claims>(verified).publish.empty());

  for (const int ttl : {1, 86400}) {
    EXPECT_EQ(ops().post(tokens_path(p), {{"user", "u"}, {"patterns", {">"}}, {"ttl", ttl}}).status,
              201)
        << ttl;
  }
  const json limits{{"user", std::string(255, 'u')},
                    {"patterns", std::vector<std::string>(128, "chat.*")}};
  EXPECT_EQ(ops().post(tokens_path(p), limits).status, 201);
  // null is the same as leaving an optional field out.
  EXPECT_EQ(ops().post(tokens_path(p), {{"user", "u"},
                                        {"patterns", {">"}},
                                        {"publish", nullptr},
                                        {"ttl", nullptr},
                                        {"consumer_id", nullptr}})
                .status,
            201);
}

TEST_F(RealtimeTokens, ImplicitConsumerNeedsExactlyOneWebsocketConsumer) {
  const std::string p = id_of(create_project(ops(), "rt-consumers"));
  const json request{{"user", "u"}, {"patterns", {"chat.>"}}};
  const std::string hook = id_of(create_consumer(ops(), p, webhook_spec("hook")));

  // None: only a webhook consumer, which clients cannot attach to.
  auto r = ops().post(tokens_path(p), request);
  expect_error(r, 422, "validation_failed");
  EXPECT_TRUE(names_field(r, "consumer_id"));
  json named = request;
  named["consumer_id"] = hook;
  r = ops().post(tokens_path(p), named);
  expect_error(r, 422, "validation_failed");
  EXPECT_TRUE(names_field(r, "consumer_id"));

  // One: it is used.
  const std::string first = id_of(create_consumer(ops(), p, websocket_spec("first")));
  r = ops().post(tokens_path(p), request);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json()["consumer_id"], first);
  auto verified =
      domain::verify_client_token(r.json()["token"].get<std::string>(), secret_of(p), unix_now());
  ASSERT_TRUE(std::holds_alternative<domain::client_claims>(verified));
  EXPECT_EQ(std::get<domain::client_claims>(verified).consumer_id, first);

  // Two: the caller must choose.
  const std::string second = id_of(create_consumer(ops(), p, websocket_spec("second")));
  r = ops().post(tokens_path(p), request);
  expect_error(r, 422, "validation_failed");
  EXPECT_TRUE(names_field(r, "consumer_id"));
  for (const auto& chosen : {first, second}) {
    named["consumer_id"] = chosen;
    r = ops().post(tokens_path(p), named);
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(r.json()["consumer_id"], chosen);
    verified =
        domain::verify_client_token(r.json()["token"].get<std::string>(), secret_of(p), unix_now());
    ASSERT_TRUE(std::holds_alternative<domain::client_claims>(verified));
    EXPECT_EQ(std::get<domain::client_claims>(verified).consumer_id, chosen);
  }

  // Unknown ids, another project's consumer and non-ids.
  const std::string elsewhere = id_of(create_project(ops(), "rt-consumers-elsewhere"));
  const std::string foreign = id_of(create_consumer(ops(), elsewhere, websocket_spec("theirs")));
  for (const auto& id : {std::string("con_01ARZ3NDEKTSV4RRFFQ69G5FAV"), foreign}) {
    named["consumer_id"] = id;
    r = ops().post(tokens_path(p), named);
    expect_error(r, 422, "validation_failed");
    EXPECT_TRUE(names_field(r, "consumer_id"));
  }
  for (const json& bad : {json("nope"), json(first + "x"), json(42), json("")}) {
    named["consumer_id"] = bad;
    r = ops().post(tokens_path(p), named);
    expect_error(r, 400, "validation_failed");
    EXPECT_TRUE(names_field(r, "consumer_id")) << bad.dump();
  }

  // Deleting one leaves exactly one again.
  ASSERT_EQ(ops().del(project_path(p) + "/consumers/" + first).status, 204);
  r = ops().post(tokens_path(p), request);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json()["consumer_id"], second);
}

TEST_F(RealtimeTokens, ApiKeysNeedTheWsScope) {
  const std::string p = project_with_app("rt-scopes");
  const json request{{"user", "u"}, {"patterns", {"chat.>"}}};
  http_client k(port());
  for (const auto& scopes : std::vector<std::vector<std::string>>{
           {"events:write"}, {"events:read"}, {"manage"}, {"events:write", "events:read", "manage"}}) {
    k.set_token(create_key(ops(), p, scopes)["key"].get<std::string>());
    expect_error(k.post(tokens_path(p), request), 403, "forbidden");
  }
  k.set_token(create_key(ops(), p, {"ws"})["key"].get<std::string>());
  const auto r = k.post(tokens_path(p), request);
  ASSERT_EQ(r.status, 201) << r.body;
  auto verified =
      domain::verify_client_token(r.json()["token"].get<std::string>(), secret_of(p), unix_now());
  EXPECT_TRUE(std::holds_alternative<domain::client_claims>(verified));

  // The admin token may issue tokens too; no credential may not.
  http_client admin(port());
  admin.set_token(daemon_->admin_token());
  EXPECT_EQ(admin.post(tokens_path(p), request).status, 201);
  http_client anonymous(port());
  expect_error(anonymous.post(tokens_path(p), request), 401);
  anonymous.set_token("psk_abcdefghijkl_ABCDEFGHIJKLMNOPQRSTUVWXYZ012345");
  expect_error(anonymous.post(tokens_path(p), request), 401);
}

TEST_F(RealtimeTokens, OtherTenantsProjectsAreNotFound) {
  const std::string mine = project_with_app("rt-mine");
  http_client intruder(port());
  intruder.set_token(sign_up(intruder, "rt-intruder@example.com").token);
  const std::string theirs = id_of(create_project(intruder, "rt-theirs"));
  create_consumer(intruder, theirs, websocket_spec("their app"));
  const json request{{"user", "u"}, {"patterns", {">"}}};

  expect_error(intruder.post(tokens_path(mine), request), 404, "not_found");
  expect_error(ops().post(tokens_path(theirs), request), 404, "not_found");
  // A ws key of one project is 404 on another, exactly like a project that does not exist.
  http_client key(port());
  key.set_token(create_key(intruder, theirs, {"ws"})["key"].get<std::string>());
  expect_error(key.post(tokens_path(mine), request), 404, "not_found");
  expect_error(key.post(tokens_path("prj_01ARZ3NDEKTSV4RRFFQ69G5FAV"), request), 404, "not_found");
  expect_error(ops().post(tokens_path("prj_01ARZ3NDEKTSV4RRFFQ69G5FAV"), request), 404,
               "not_found");
  expect_error(ops().post(tokens_path("not-a-project"), request), 404, "not_found");
  EXPECT_EQ(key.post(tokens_path(theirs), request).status, 201);
}

TEST_F(RealtimeTokens, ValidationNamesTheFields) {
  const std::string p = project_with_app("rt-validation");
  struct bad_case {
    std::string name;
    json body;
    std::vector<std::string> fields;
  };
  const json ok{{"user", "u"}, {"patterns", {"chat.>"}}};
  auto with = [&](const char* key, const json& value) {
    json b = ok;
    b[key] = value;
    return b;
  };
  auto without = [&](const char* key) {
    json b = ok;
    b.erase(key);
    return b;
  };
  const std::vector<bad_case> cases{
      {"user missing", without("user"), {"user"}},
      {"user empty", with("user", ""), {"user"}},
      {"user too long", with("user", std::string(256, 'u')), {"user"}},
      {"user not a string", with("user", 7), {"user"}},
      {"patterns missing", without("patterns"), {"patterns"}},
      {"patterns empty", with("patterns", json::array()), {"patterns"}},
      {"patterns not a list", with("patterns", "chat.>"), {"patterns"}},
      {"too many patterns", with("patterns", std::vector<std::string>(129, "a.*")), {"patterns"}},
      {"bad pattern", with("patterns", {"chat..message"}), {"patterns"}},
      {"> not last", with("patterns", {"ok.*", ">.chat"}), {"patterns"}},
      {"pattern not a string", with("patterns", {1}), {"patterns"}},
      {"bad publish pattern", with("publish", {"typing.**"}), {"publish"}},
      {"publish not a list", with("publish", "typing.*"), {"publish"}},
      {"ttl 0", with("ttl", 0), {"ttl"}},
      {"ttl over a day", with("ttl", 86401), {"ttl"}},
      {"ttl negative", with("ttl", -5), {"ttl"}},
      {"ttl string", with("ttl", "60"), {"ttl"}},
      {"ttl fraction", with("ttl", 1.5), {"ttl"}},
      {"unknown field", with("scopes", {"ws"}), {"scopes"}},
      {"several at once",
       {{"patterns", {"a..b"}}, {"ttl", 0}, {"expires", 5}},
       {"user", "patterns", "ttl", "expires"}},
  };
  for (const auto& bc : cases) {
    SCOPED_TRACE(bc.name + ": " + bc.body.dump().substr(0, 200));
    const auto r = ops().post(tokens_path(p), bc.body);
    expect_error(r, 400, "validation_failed");
    for (const auto& field : bc.fields) EXPECT_TRUE(names_field(r, field));
  }

  const auto not_json = ops().request_raw("POST", tokens_path(p), "user=u", "text/plain");
  expect_error(not_json, 415);
}

}  // namespace
}  // namespace psig::e2e
