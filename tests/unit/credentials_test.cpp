#include "psig/domain/credentials.hpp"

#include "psig/common/crypto.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <string>
#include <vector>

namespace psig::domain {
namespace {

constexpr int fast_iterations = 1000;

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t pos; (pos = text.find(sep, start)) != std::string::npos; start = pos + 1) {
    parts.push_back(text.substr(start, pos - start));
  }
  parts.push_back(text.substr(start));
  return parts;
}

TEST(Passwords, RoundTrip) {
  const std::string encoded = hash_password("correct horse battery staple", fast_iterations);
  EXPECT_TRUE(verify_password("correct horse battery staple", encoded));
  EXPECT_FALSE(verify_password("correct horse battery stapl", encoded));
  EXPECT_FALSE(verify_password("", encoded));
}

TEST(Passwords, EmptyAndBinaryPasswords) {
  const std::string empty = hash_password("", fast_iterations);
  EXPECT_TRUE(verify_password("", empty));
  EXPECT_FALSE(verify_password("x", empty));
  const std::string binary("a\0b", 3);
  const std::string encoded = hash_password(binary, fast_iterations);
  EXPECT_TRUE(verify_password(binary, encoded));
  EXPECT_FALSE(verify_password("a", encoded));
}

TEST(Passwords, EncodingShape) {
  const auto parts = split(hash_password("pw", fast_iterations), '$');
  ASSERT_EQ(parts.size(), 4u);
  EXPECT_EQ(parts[0], "pbkdf2-sha256");
  EXPECT_EQ(parts[1], "1000");
  EXPECT_EQ(common::base64_decode(parts[2]).value_or("").size(), 16u);
  EXPECT_EQ(common::base64_decode(parts[3]).value_or("").size(), 32u);
}

TEST(Passwords, DefaultIterations) {
  const std::string encoded = hash_password("hunter2");
  EXPECT_EQ(split(encoded, '$')[1], "210000");
  EXPECT_TRUE(verify_password("hunter2", encoded));
  EXPECT_FALSE(verify_password("hunter3", encoded));
}

TEST(Passwords, DistinctSalts) {
  const std::string a = hash_password("same", fast_iterations);
  const std::string b = hash_password("same", fast_iterations);
  EXPECT_NE(a, b);
  EXPECT_NE(split(a, '$')[2], split(b, '$')[2]);
  EXPECT_TRUE(verify_password("same", a));
  EXPECT_TRUE(verify_password("same", b));
}

TEST(Passwords, KnownVector) {
  // PBKDF2-HMAC-SHA256("password", "salt", 1 iteration, 32 bytes) = 120fb6cf...0be17b.
  const std::string encoded = "pbkdf2-sha256$1$" + common::base64_encode("salt") + "$" +
                              "Eg+2z/z4syxD5yJSVsT4N6hlSMkszDVICAWYfLcL4Xs=";
  EXPECT_TRUE(verify_password("password", encoded));
  EXPECT_FALSE(verify_password("Password", encoded));
}

TEST(Passwords, MalformedEncodingsAreRejected) {
  const std::string good = hash_password("pw", fast_iterations);
  ASSERT_TRUE(verify_password("pw", good));
  const auto p = split(good, '$');
  const std::vector<std::string> bad = {
      "",
      "pw",
      "pbkdf2-sha256",
      "pbkdf2-sha1$1000$" + p[2] + "$" + p[3],
      "pbkdf2-sha256$$" + p[2] + "$" + p[3],
      "pbkdf2-sha256$0$" + p[2] + "$" + p[3],
      "pbkdf2-sha256$-1000$" + p[2] + "$" + p[3],
      "pbkdf2-sha256$01000$" + p[2] + "$" + p[3],
      "pbkdf2-sha256$1000x$" + p[2] + "$" + p[3],
      "pbkdf2-sha256$999999999999$" + p[2] + "$" + p[3],
      "pbkdf2-sha256$2000000000$" + p[2] + "$" + p[3],
      "pbkdf2-sha256$1000$$" + p[3],
      "pbkdf2-sha256$1000$!!!!$" + p[3],
      "pbkdf2-sha256$1000$" + p[2] + "$",
      "pbkdf2-sha256$1000$" + p[2] + "$" + p[3].substr(0, 20),
      "pbkdf2-sha256$1000$" + p[2] + "$" + common::base64_encode("short"),
      "pbkdf2-sha256$1000$" + p[2] + "$" + p[3] + "$extra",
      "pbkdf2-sha256$2000$" + p[2] + "$" + p[3],
  };
  for (const auto& encoded : bad) EXPECT_FALSE(verify_password("pw", encoded)) << encoded;
}

TEST(ApiKeys, GeneratedShape) {
  const generated_api_key k = generate_api_key();
  ASSERT_EQ(k.key.size(), 4u + 12u + 1u + 32u);
  EXPECT_EQ(k.key.substr(0, 4), "psk_");
  EXPECT_EQ(k.key[16], '_');
  EXPECT_EQ(k.key.substr(4, 12), k.prefix);
  EXPECT_TRUE(std::all_of(k.prefix.begin(), k.prefix.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) ||
           std::isdigit(static_cast<unsigned char>(c));
  }));
  const std::string secret = k.key.substr(17);
  EXPECT_TRUE(std::all_of(secret.begin(), secret.end(),
                          [](char c) { return std::isalnum(static_cast<unsigned char>(c)); }));
  EXPECT_EQ(k.hash, common::sha256_hex(k.key));
  EXPECT_EQ(k.hash, hash_api_key(k.key));
  EXPECT_EQ(k.hash.size(), 64u);
}

TEST(ApiKeys, GeneratedKeysDiffer) {
  std::set<std::string> keys;
  std::set<std::string> prefixes;
  for (int i = 0; i < 200; ++i) {
    const auto k = generate_api_key();
    keys.insert(k.key);
    prefixes.insert(k.prefix);
  }
  EXPECT_EQ(keys.size(), 200u);
  EXPECT_EQ(prefixes.size(), 200u);
}

TEST(ApiKeys, PrefixExtraction) {
  const auto k = generate_api_key();
  EXPECT_EQ(api_key_prefix(k.key), k.prefix);
  EXPECT_EQ(api_key_prefix("psk_abc123def456_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"), "abc123def456");
}

TEST(ApiKeys, MalformedKeysAreRejected) {
  const std::string good = "psk_abc123def456_ABCDEFGHIJKLMNOPQRSTUVWXYZabcd01";
  ASSERT_TRUE(api_key_prefix(good).has_value());
  const std::vector<std::string> bad = {
      "",
      "psk_",
      "pk_abc123def456_ABCDEFGHIJKLMNOPQRSTUVWXYZabcd012",
      "PSK_abc123def456_ABCDEFGHIJKLMNOPQRSTUVWXYZabcd01",
      "psk_ABC123def456_ABCDEFGHIJKLMNOPQRSTUVWXYZabcd01",
      "psk_abc123def45__ABCDEFGHIJKLMNOPQRSTUVWXYZabcd01",
      "psk_abc123def456-ABCDEFGHIJKLMNOPQRSTUVWXYZabcd01",
      "psk_abc123def456_ABCDEFGHIJKLMNOPQRSTUVWXYZabcd0",
      "psk_abc123def456_ABCDEFGHIJKLMNOPQRSTUVWXYZabcd012",
      "psk_abc123def45_ABCDEFGHIJKLMNOPQRSTUVWXYZabcd012",
      "psk_abc123def456_ABCDEFGHIJKLMNOPQRSTUVWXYZabcd-1",
      "psk_abc123def456_ABCDEFGHIJKLMNOPQRSTUVWXYZabcd 1",
      "psk_abc123def456_ABCDEFGHIJKLMNOPQRSTUVWXYZabc\xc3\xa9",
      " psk_abc123def456_ABCDEFGHIJKLMNOPQRSTUVWXYZabcd0",
  };
  for (const auto& key : bad) EXPECT_EQ(api_key_prefix(key), std::nullopt) << key;
}

TEST(ApiKeys, HashIsSha256Hex) {
  EXPECT_EQ(hash_api_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ApiKeys, Scopes) {
  for (const auto scope : {"events:write", "events:read", "manage", "ws"}) {
    EXPECT_TRUE(is_api_key_scope(scope)) << scope;
  }
  for (const auto scope : {"", "admin", "events", "events:*", "Manage", "ws ", "events:write,ws"}) {
    EXPECT_FALSE(is_api_key_scope(scope)) << scope;
  }
}

TEST(Secrets, WebhookSecretDecodesToThirtyTwoBytes) {
  const std::string secret = generate_webhook_secret();
  ASSERT_EQ(secret.substr(0, 6), "whsec_");
  const auto raw = common::base64_decode(secret.substr(6));
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(raw->size(), 32u);
  EXPECT_NE(secret, generate_webhook_secret());
}

TEST(Secrets, SessionTokenShape) {
  const std::string token = generate_session_token();
  ASSERT_EQ(token.substr(0, 4), "pst_");
  EXPECT_EQ(token.size(), 4u + 43u);
  EXPECT_EQ(token.find_first_of("+/="), std::string::npos);
  const auto raw = common::base64url_decode(token.substr(4));
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(raw->size(), 32u);
  EXPECT_NE(token, generate_session_token());
}

TEST(Secrets, RealtimeSecretShape) {
  const std::string secret = generate_realtime_secret();
  EXPECT_EQ(secret.size(), 43u);
  const auto raw = common::base64url_decode(secret);
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(raw->size(), 32u);
  EXPECT_NE(secret, generate_realtime_secret());
}

}  // namespace
}  // namespace psig::domain
