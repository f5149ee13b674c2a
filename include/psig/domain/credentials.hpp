#pragma once
// Credentials: account passwords, API keys, session tokens and webhook secrets.
#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace psig::domain {

// ---- passwords: PBKDF2-HMAC-SHA256 with a 16-byte random salt per hash ----
inline constexpr int pbkdf2_default_iterations = 210'000;

// Encoded as "pbkdf2-sha256$<iterations>$<base64 salt>$<base64 hash>" so the cost can be raised
// later without breaking stored hashes.
std::string hash_password(std::string_view password, int iterations = pbkdf2_default_iterations);

// False for a wrong password and for a malformed encoding; never throws on bad input.
bool verify_password(std::string_view password, std::string_view encoded);

// ---- API keys: "psk_<prefix>_<secret>" ----
// prefix: 12 characters of [a-z0-9]; secret: 32 characters of [A-Za-z0-9]. Stored as SHA-256
// hex of the whole key; looked up by prefix.
struct generated_api_key {
  std::string key;     // shown to the user once
  std::string prefix;  // stored in clear, indexed
  std::string hash;    // sha256 hex of `key`
};
generated_api_key generate_api_key();

// The prefix of a well-formed key, nullopt otherwise (wrong shape, length or alphabet).
std::optional<std::string> api_key_prefix(std::string_view key);
std::string hash_api_key(std::string_view key);  // sha256 hex

inline constexpr std::array<std::string_view, 4> api_key_scopes{"events:write", "events:read",
                                                                "manage", "ws"};
bool is_api_key_scope(std::string_view scope);

// ---- other secrets ----
// "whsec_" + base64 (standard, padded) of 32 random bytes, as Standard Webhooks expects.
std::string generate_webhook_secret();
// "pst_" + base64url of 32 random bytes; stored as sha256 hex.
std::string generate_session_token();
// base64url of 32 random bytes: a project's realtime (JWT HS256) secret.
std::string generate_realtime_secret();

}  // namespace psig::domain
