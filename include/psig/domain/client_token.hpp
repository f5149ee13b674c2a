#pragma once
// WebSocket client tokens (DESIGN §9): compact JWS / JWT (RFC 7515, RFC 7519) signed with
// HS256 under the project's realtime secret.
//
//   header   {"alg":"HS256","typ":"JWT"}          ("typ" optional; any other "alg" is refused)
//   payload  {"sub": user (1-255 bytes),           required
//             "exp": Unix seconds,                 required; refused from that second on
//             "prj": "prj_…",                      required: says whose secret signed it
//             "patterns": ["chat.>", …],           required, 0-128 valid patterns (subscribe)
//             "publish": ["typing.*", …],          optional, 0-128 valid patterns
//             "consumer_id": "con_…",              optional: the websocket consumer
//             "iat", "nbf": Unix seconds}          optional; other claims are ignored
//   signature base64url(HMAC-SHA256(key, base64url(header) + "." + base64url(payload)))
//
// The HMAC key is the realtime secret exactly as the API shows it (the 43-character base64url
// text), taken as its UTF-8 bytes: it is NOT base64-decoded first. That is what every JWT
// library does with a string secret, so a customer's backend can mint tokens with any of them.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace psig::domain {

inline constexpr std::size_t max_client_token_bytes = 32 * 1024;
inline constexpr std::size_t max_token_user_bytes = 255;
inline constexpr std::size_t max_token_patterns = 128;  // per list (patterns, publish)
// How far a customer's clock may run ahead of ours for "nbf".
inline constexpr std::int64_t token_clock_skew_seconds = 60;

struct client_claims {
  std::string user;                         // "sub"
  std::vector<std::string> patterns;        // may subscribe to
  std::vector<std::string> publish;         // may publish to; written only when not empty
  std::optional<std::string> consumer_id;   // "con_…"
  std::int64_t expires_at = 0;              // "exp", Unix seconds
  std::string project_id;                   // "prj"
  std::int64_t issued_at = 0;               // "iat", Unix seconds; 0: not written / absent
};

// The signed token. Throws std::invalid_argument for an empty secret (nothing else is checked:
// the caller validated the claims, and verify_client_token checks them on the way back in).
std::string mint_client_token(const client_claims& claims, std::string_view secret);

enum class token_error {
  malformed,        // not three base64url parts of JSON objects, or too long
  bad_signature,    // the HMAC does not match (or the secret is empty)
  wrong_algorithm,  // "alg" is not exactly "HS256" ("none", "HS512", "RS256", …)
  expired,          // now >= exp
  bad_claims,       // sub/exp/prj/patterns/publish/consumer_id missing or invalid; nbf ahead
};
std::string_view to_string(token_error e);

// Checks, in this order: shape and size, header ("alg" == "HS256", no "crit"), signature in
// constant time, then the claims at time `now` (Unix seconds). Never throws on bad input.
std::variant<client_claims, token_error> verify_client_token(std::string_view token,
                                                             std::string_view secret,
                                                             std::int64_t now);

// The "prj" claim of a well-formed token, read WITHOUT checking the signature: untrusted until
// verify_client_token has checked the token with that project's secret. It only tells the
// gateway whose secret to load. nullopt when the token is malformed or "prj" is not a prj_ id.
std::optional<std::string> token_project(std::string_view token);

}  // namespace psig::domain
