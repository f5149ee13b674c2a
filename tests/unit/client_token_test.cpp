#include "psig/domain/client_token.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "psig/common/crypto.hpp"
#include "psig/domain/credentials.hpp"

namespace psig::domain {
namespace {

using nlohmann::json;

constexpr std::int64_t now = 1'700'000'000;
constexpr const char* project = "prj_01ARZ3NDEKTSV4RRFFQ69G5FAV";
constexpr const char* consumer = "con_01ARZ3NDEKTSV4RRFFQ69G5FAW";
constexpr const char* secret = "kq3VbC9x1fK2mP0sT7uW4yZ6aB8dE5gH3jL1nQ9rS2v";

client_claims sample() {
  client_claims c;
  c.user = "user-42";
  c.patterns = {"chat.message.*", "presence.>"};
  c.publish = {"typing.*"};
  c.consumer_id = consumer;
  c.expires_at = now + 3600;
  c.project_id = project;
  c.issued_at = now;
  return c;
}

json sample_payload() {
  return {{"sub", "user-42"},
          {"exp", now + 3600},
          {"prj", project},
          {"patterns", {"chat.>"}}};
}

// What a customer's backend does with any JWT library, spelled out: base64url (no padding) of
// the header and payload JSON, HMAC-SHA256 over "header.payload" keyed with the realtime secret's
// text as UTF-8 bytes (not base64-decoded), base64url of the MAC.
std::string hand_mint(const std::string& header, const std::string& payload,
                      const std::string& key = secret) {
  const std::string input =
      common::base64url_encode(header) + "." + common::base64url_encode(payload);
  return input + "." + common::base64url_encode(common::hmac_sha256(key, input));
}

std::string hs256(const json& payload, const std::string& key = secret) {
  return hand_mint(R"({"alg":"HS256","typ":"JWT"})", payload.dump(), key);
}

std::vector<std::string> split(const std::string& token) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t pos; (pos = token.find('.', start)) != std::string::npos; start = pos + 1) {
    parts.push_back(token.substr(start, pos - start));
  }
  parts.push_back(token.substr(start));
  return parts;
}

std::optional<token_error> error_of(const std::string& token, std::int64_t at = now,
                                    const std::string& key = secret) {
  const auto result = verify_client_token(token, key, at);
  if (const auto* e = std::get_if<token_error>(&result)) return *e;
  return std::nullopt;
}

client_claims claims_of(const std::string& token, std::int64_t at = now) {
  auto result = verify_client_token(token, secret, at);
  if (const auto* e = std::get_if<token_error>(&result)) {
    ADD_FAILURE() << "refused: " << to_string(*e) << " " << token;
    return {};
  }
  return std::get<client_claims>(std::move(result));
}

TEST(ClientToken, RoundTrip) {
  const std::string token = mint_client_token(sample(), secret);
  EXPECT_EQ(split(token).size(), 3u);
  const auto c = claims_of(token);
  EXPECT_EQ(c.user, "user-42");
  EXPECT_EQ(c.patterns, sample().patterns);
  EXPECT_EQ(c.publish, sample().publish);
  EXPECT_EQ(c.consumer_id, consumer);
  EXPECT_EQ(c.expires_at, now + 3600);
  EXPECT_EQ(c.project_id, project);
  EXPECT_EQ(c.issued_at, now);
}

TEST(ClientToken, RoundTripMinimal) {
  client_claims in;
  in.user = "u";
  in.patterns = {">"};
  in.expires_at = now + 1;
  in.project_id = project;
  const std::string token = mint_client_token(in, secret);
  const json payload = json::parse(*common::base64url_decode(split(token)[1]));
  EXPECT_FALSE(payload.contains("publish"));
  EXPECT_FALSE(payload.contains("consumer_id"));
  EXPECT_FALSE(payload.contains("iat"));
  const auto c = claims_of(token);
  EXPECT_EQ(c.user, "u");
  EXPECT_EQ(c.patterns, std::vector<std::string>{">"});
  EXPECT_TRUE(c.publish.empty());
  EXPECT_FALSE(c.consumer_id);
  EXPECT_EQ(c.issued_at, 0);
}

TEST(ClientToken, MintedHeaderAndClaimNames) {
  const auto parts = split(mint_client_token(sample(), secret));
  EXPECT_EQ(json::parse(*common::base64url_decode(parts[0])),
            json({{"alg", "HS256"}, {"typ", "JWT"}}));
  const json payload = json::parse(*common::base64url_decode(parts[1]));
  EXPECT_EQ(payload, json({{"sub", "user-42"},
                           {"exp", now + 3600},
                           {"iat", now},
                           {"prj", project},
                           {"patterns", {"chat.message.*", "presence.>"}},
                           {"publish", {"typing.*"}},
                           {"consumer_id", consumer}}));
  for (const auto& part : parts) EXPECT_EQ(part.find('='), std::string::npos) << "no padding";
}

TEST(ClientToken, MintRefusesAnEmptySecret) {
  EXPECT_THROW(mint_client_token(sample(), ""), std::invalid_argument);
}

// Made with PyJWT 2.6 (jwt.encode(payload, secret, algorithm="HS256")): an independent
// implementation, with an extra claim ("aud") that we ignore.
TEST(ClientToken, TokenFromAnotherLibraryVerifies) {
  const std::string pyjwt =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
      "eyJzdWIiOiJ1c2VyLTQyIiwiZXhwIjoyMDAwMDAwMDAwLCJpYXQiOjE3MDAwMDAwMDAsInByaiI6InByal8wMUFSWjNO"
      "REVLVFNWNFJSRkZRNjlHNUZBViIsInBhdHRlcm5zIjpbImNoYXQubWVzc2FnZS4qIiwicHJlc2VuY2UuPiJdLCJwdWJs"
      "aXNoIjpbInR5cGluZy4qIl0sImNvbnN1bWVyX2lkIjoiY29uXzAxQVJaM05ERUtUU1Y0UlJGRlE2OUc1RkFXIiwiYXVk"
      "IjoiaWdub3JlZCJ9."
      "XEcTeUwrxeCbLYgeCFhw37qbYKEXFip7tX9WMM9nUWo";
  const auto c = claims_of(pyjwt);
  EXPECT_EQ(c.user, "user-42");
  EXPECT_EQ(c.expires_at, 2'000'000'000);
  EXPECT_EQ(c.issued_at, 1'700'000'000);
  EXPECT_EQ(c.project_id, project);
  EXPECT_EQ(c.patterns, (std::vector<std::string>{"chat.message.*", "presence.>"}));
  EXPECT_EQ(c.publish, std::vector<std::string>{"typing.*"});
  EXPECT_EQ(c.consumer_id, consumer);
  EXPECT_EQ(error_of(pyjwt, now, "kq3VbC9x1fK2mP0sT7uW4yZ6aB8dE5gH3jL1nQ9rS2w"),
            token_error::bad_signature);
}

TEST(ClientToken, HandMintedTokenVerifies) {
  // Key order, whitespace and the header's own key order are the minter's business.
  const std::string token = hand_mint(
      R"({ "typ": "JWT", "alg": "HS256" })",
      R"({"patterns": ["orders.*.paid"], "exp": 1700000600, "sub": "alice@example.com", )"
      R"("prj": "prj_01ARZ3NDEKTSV4RRFFQ69G5FAV", "custom": {"plan": "pro"}})");
  const auto c = claims_of(token);
  EXPECT_EQ(c.user, "alice@example.com");
  EXPECT_EQ(c.patterns, std::vector<std::string>{"orders.*.paid"});
  EXPECT_EQ(c.expires_at, 1'700'000'600);
}

TEST(ClientToken, KeyIsTheSecretTextNotItsDecodedBytes) {
  const std::string real = generate_realtime_secret();
  const std::string token = hs256(sample_payload(), *common::base64url_decode(real));
  EXPECT_EQ(error_of(token, now, real), token_error::bad_signature);
  EXPECT_FALSE(error_of(hs256(sample_payload(), real), now, real));
}

TEST(ClientToken, TypHeaderVariants) {
  const std::string p = sample_payload().dump();
  EXPECT_FALSE(error_of(hand_mint(R"({"alg":"HS256"})", p)));
  EXPECT_FALSE(error_of(hand_mint(R"({"alg":"HS256","typ":"jwt"})", p)));
  EXPECT_FALSE(error_of(hand_mint(R"({"alg":"HS256","typ":"application/jwt"})", p)));
  EXPECT_FALSE(error_of(hand_mint(R"({"alg":"HS256","typ":"JWT","kid":"k1"})", p)));
  EXPECT_EQ(error_of(hand_mint(R"({"alg":"HS256","typ":"JOSE+JSON"})", p)), token_error::malformed);
  EXPECT_EQ(error_of(hand_mint(R"({"alg":"HS256","typ":1})", p)), token_error::malformed);
  EXPECT_EQ(error_of(hand_mint(R"({"alg":"HS256","crit":["exp"]})", p)), token_error::malformed);
}

TEST(ClientToken, TamperedPayloadIsRefused) {
  const auto parts = split(mint_client_token(sample(), secret));
  auto payload = json::parse(*common::base64url_decode(parts[1]));
  payload["patterns"] = {">"};
  const std::string forged =
      parts[0] + "." + common::base64url_encode(payload.dump()) + "." + parts[2];
  EXPECT_EQ(error_of(forged), token_error::bad_signature);

  payload = json::parse(*common::base64url_decode(parts[1]));
  payload["exp"] = now + 999'999;
  EXPECT_EQ(error_of(parts[0] + "." + common::base64url_encode(payload.dump()) + "." + parts[2]),
            token_error::bad_signature);
}

TEST(ClientToken, TamperedSignatureIsRefused) {
  const std::string token = mint_client_token(sample(), secret);
  const auto parts = split(token);
  std::string sig = parts[2];
  sig[5] = sig[5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(error_of(parts[0] + "." + parts[1] + "." + sig), token_error::bad_signature);
  EXPECT_EQ(error_of(parts[0] + "." + parts[1] + "." + parts[2].substr(1)),
            token_error::bad_signature);
  EXPECT_EQ(error_of(parts[0] + "." + parts[1] + "." + parts[2] + "AA"), token_error::bad_signature);
  // The same MAC in a non-canonical encoding (last character with trailing bits set).
  std::string loose = parts[2];
  loose.back() = loose.back() == 'A' ? 'B' : static_cast<char>(loose.back() + 1);
  EXPECT_EQ(error_of(parts[0] + "." + parts[1] + "." + loose), token_error::bad_signature);
  EXPECT_EQ(error_of(token, now, "another secret"), token_error::bad_signature);
  EXPECT_EQ(error_of(token, now, ""), token_error::bad_signature);
  EXPECT_EQ(error_of(token, now, std::string(secret) + " "), token_error::bad_signature);
}

TEST(ClientToken, OnlyHs256IsAccepted) {
  const std::string p = sample_payload().dump();
  // Each header is signed with a correct HMAC-SHA256: the algorithm alone must refuse it.
  for (const char* header :
       {R"({"alg":"none","typ":"JWT"})", R"({"alg":"None"})", R"({"alg":"NONE"})",
        R"({"alg":"hs256"})", R"({"alg":"HS512","typ":"JWT"})", R"({"alg":"HS384"})",
        R"({"alg":"RS256","typ":"JWT"})", R"({"alg":"ES256"})", R"({"alg":"PS256"})",
        R"({"alg":"EdDSA"})", R"({"alg":""})", R"({"alg":256})", R"({"alg":null})",
        R"({"alg":["HS256"]})", R"({"typ":"JWT"})"}) {
    EXPECT_EQ(error_of(hand_mint(header, p)), token_error::wrong_algorithm) << header;
  }
  // The classic "none" attack: no signature at all.
  const std::string unsigned_token = common::base64url_encode(R"({"alg":"none","typ":"JWT"})") +
                                     "." + common::base64url_encode(p) + ".";
  EXPECT_NE(error_of(unsigned_token), std::nullopt);
  EXPECT_EQ(error_of(unsigned_token), token_error::malformed);
}

TEST(ClientToken, Expiry) {
  json p = sample_payload();
  p["exp"] = now;
  EXPECT_EQ(error_of(hs256(p)), token_error::expired) << "refused on the exp second itself";
  p["exp"] = now - 1;
  EXPECT_EQ(error_of(hs256(p)), token_error::expired);
  p["exp"] = now + 1;
  EXPECT_FALSE(error_of(hs256(p)));
  const std::string minted = mint_client_token(sample(), secret);
  EXPECT_FALSE(error_of(minted, now + 3599));
  EXPECT_EQ(error_of(minted, now + 3600), token_error::expired);
  EXPECT_EQ(error_of(minted, now + 100'000), token_error::expired);
}

TEST(ClientToken, NumericDates) {
  json p = sample_payload();
  p["exp"] = static_cast<double>(now) + 10.75;
  EXPECT_EQ(claims_of(hs256(p)).expires_at, now + 10);
  for (const json& bad : {json("1700003600"), json(nullptr), json(true), json::array(),
                          json(18'446'744'073'709'551'615ULL), json(1e300)}) {
    p["exp"] = bad;
    EXPECT_EQ(error_of(hs256(p)), token_error::bad_claims) << bad.dump();
  }
  p = sample_payload();
  p["iat"] = "yesterday";
  EXPECT_EQ(error_of(hs256(p)), token_error::bad_claims);
}

TEST(ClientToken, NotBefore) {
  json p = sample_payload();
  p["nbf"] = now + token_clock_skew_seconds;
  EXPECT_FALSE(error_of(hs256(p))) << "within the allowed clock skew";
  p["nbf"] = now + token_clock_skew_seconds + 1;
  EXPECT_EQ(error_of(hs256(p)), token_error::bad_claims);
  p["nbf"] = "now";
  EXPECT_EQ(error_of(hs256(p)), token_error::bad_claims);
}

TEST(ClientToken, RequiredClaims) {
  for (const char* claim : {"exp", "sub", "prj", "patterns"}) {
    json p = sample_payload();
    p.erase(claim);
    EXPECT_EQ(error_of(hs256(p)), token_error::bad_claims) << claim;
  }
}

TEST(ClientToken, BadClaimsBeatExpiry) {
  // An expired token that would be refused anyway must not look "just expired" (4005 means
  // "reconnect with a fresh token"; a bad token must not loop).
  json p = sample_payload();
  p["exp"] = now - 10;
  p["patterns"] = {"bad..pattern"};
  EXPECT_EQ(error_of(hs256(p)), token_error::bad_claims);
}

TEST(ClientToken, Subject) {
  json p = sample_payload();
  p["sub"] = std::string(255, 'u');
  EXPECT_EQ(claims_of(hs256(p)).user, std::string(255, 'u'));
  for (const json& bad : {json(""), json(std::string(256, 'u')), json(42), json(nullptr),
                          json::array({"u"})}) {
    p["sub"] = bad;
    EXPECT_EQ(error_of(hs256(p)), token_error::bad_claims) << bad.dump();
  }
}

TEST(ClientToken, Project) {
  json p = sample_payload();
  for (const json& bad : {json("prj_not-an-id"), json("con_01ARZ3NDEKTSV4RRFFQ69G5FAV"),
                          json(""), json(7)}) {
    p["prj"] = bad;
    EXPECT_EQ(error_of(hs256(p)), token_error::bad_claims) << bad.dump();
  }
}

TEST(ClientToken, Patterns) {
  json p = sample_payload();
  p["patterns"] = json::array();
  EXPECT_TRUE(claims_of(hs256(p)).patterns.empty()) << "a token may allow no subscription";
  p["patterns"] = std::vector<std::string>(max_token_patterns, "a.*");
  EXPECT_EQ(claims_of(hs256(p)).patterns.size(), max_token_patterns);
  for (const json& bad :
       {json(std::vector<std::string>(max_token_patterns + 1, "a.*")), json({"chat..x"}),
        json({">.chat"}), json({""}), json({"chat.*", "chat message"}), json({1}),
        json("chat.>"), json(nullptr), json({{"pattern", "a"}})}) {
    p["patterns"] = bad;
    EXPECT_EQ(error_of(hs256(p)), token_error::bad_claims) << bad.dump();
  }
}

TEST(ClientToken, Publish) {
  json p = sample_payload();
  p["publish"] = {"typing.*", "chat.message.created"};
  EXPECT_EQ(claims_of(hs256(p)).publish,
            (std::vector<std::string>{"typing.*", "chat.message.created"}));
  p["publish"] = nullptr;
  EXPECT_TRUE(claims_of(hs256(p)).publish.empty());
  for (const json& bad : {json({"typing..x"}), json("typing.*"), json({2}),
                          json(std::vector<std::string>(max_token_patterns + 1, "t"))}) {
    p["publish"] = bad;
    EXPECT_EQ(error_of(hs256(p)), token_error::bad_claims) << bad.dump();
  }
}

TEST(ClientToken, ConsumerId) {
  json p = sample_payload();
  p["consumer_id"] = consumer;
  EXPECT_EQ(claims_of(hs256(p)).consumer_id, consumer);
  for (const json& bad : {json("con_x"), json(project), json(5)}) {
    p["consumer_id"] = bad;
    EXPECT_EQ(error_of(hs256(p)), token_error::bad_claims) << bad.dump();
  }
}

TEST(ClientToken, MalformedTokens) {
  const std::string good = mint_client_token(sample(), secret);
  const auto parts = split(good);
  for (const std::string& bad :
       {std::string(), std::string("."), std::string(".."), std::string("a.b"),
        good + "." + parts[2], "." + parts[1] + "." + parts[2], parts[0] + ".." + parts[2],
        parts[0] + "=." + parts[1] + "." + parts[2], " " + good, good + "\n",
        std::string("eyJ\xff.eyJ.sig"), std::string("\x80\x90.\xfe.\xff"),
        std::string(max_client_token_bytes + 1, 'a'), std::string("Bearer ") + good}) {
    EXPECT_EQ(error_of(bad), token_error::malformed) << bad.substr(0, 80);
  }
  // Parts that decode but are not JSON objects (the payload case is signed correctly, so only
  // the payload's shape can refuse it).
  EXPECT_EQ(error_of(hand_mint("not json", sample_payload().dump())), token_error::malformed);
  EXPECT_EQ(error_of(hand_mint(R"(["HS256"])", sample_payload().dump())), token_error::malformed);
  EXPECT_EQ(error_of(hand_mint(R"({"alg":"HS256"})", "not json")), token_error::malformed);
  EXPECT_EQ(error_of(hand_mint(R"({"alg":"HS256"})", "[1,2]")), token_error::malformed);
  EXPECT_EQ(error_of(hand_mint(R"({"alg":"HS256"})", std::string(5000, '[') + std::string(5000, ']'))),
            token_error::malformed);
}

TEST(ClientToken, ProjectBeforeVerifying) {
  const std::string good = mint_client_token(sample(), secret);
  EXPECT_EQ(token_project(good), project);
  // Untrusted: the signature is not checked here (a forged token still names a project; the
  // gateway must verify with that project's secret before believing anything).
  EXPECT_EQ(token_project(hs256(sample_payload(), "not the secret")), project);
  json p = sample_payload();
  p.erase("prj");
  EXPECT_FALSE(token_project(hs256(p)));
  p["prj"] = "prj_bad";
  EXPECT_FALSE(token_project(hs256(p)));
  p["prj"] = 12;
  EXPECT_FALSE(token_project(hs256(p)));
  for (const std::string& garbage :
       {std::string(), std::string("garbage"), std::string("a.b.c"), std::string("...."),
        std::string("psk_abcdefghijkl_ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"),
        std::string("\xff\xfe.\x80.\x90"), std::string(max_client_token_bytes + 1, 'a'),
        hand_mint(R"({"alg":"HS256"})", std::string(100, '[') + std::string(100, ']'))}) {
    EXPECT_FALSE(token_project(garbage)) << garbage.substr(0, 60);
  }
}

TEST(ClientToken, ErrorNames) {
  for (const auto e : {token_error::malformed, token_error::bad_signature,
                       token_error::wrong_algorithm, token_error::expired, token_error::bad_claims}) {
    EXPECT_FALSE(to_string(e).empty());
  }
  EXPECT_EQ(to_string(token_error::expired), "token expired");
}

}  // namespace
}  // namespace psig::domain
