#include "psig/domain/client_token.hpp"

#include <cctype>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "psig/common/crypto.hpp"
#include "psig/common/json_depth.hpp"
#include "psig/common/ids.hpp"
#include "psig/domain/pattern.hpp"

namespace psig::domain {
namespace {

using nlohmann::json;

constexpr std::string_view algorithm = "HS256";
// Claims are flat; anything deeper than this is not a token of ours (and is not parsed).
constexpr int max_json_depth = 8;

// {"alg":"HS256","typ":"JWT"}, encoded once.
const std::string& encoded_header() {
  static const std::string h = common::base64url_encode(R"({"alg":"HS256","typ":"JWT"})");
  return h;
}

struct token_parts {
  std::string_view header;
  std::string_view payload;
  std::string_view signature;
  std::string_view signing_input;  // "header.payload"
};

// Exactly three non-empty parts of the base64url alphabet (no padding: RFC 7515 §2).
std::optional<token_parts> split_token(std::string_view token) {
  if (token.empty() || token.size() > max_client_token_bytes) return std::nullopt;
  for (const char c : token) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return std::nullopt;
  }
  const std::size_t first = token.find('.');
  if (first == std::string_view::npos) return std::nullopt;
  const std::size_t second = token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  token_parts p;
  p.header = token.substr(0, first);
  p.payload = token.substr(first + 1, second - first - 1);
  p.signature = token.substr(second + 1);
  p.signing_input = token.substr(0, second);
  if (p.header.empty() || p.payload.empty() || p.signature.empty()) return std::nullopt;
  return p;
}

// A base64url part decoded and parsed as a JSON object; nullopt otherwise. Never throws.
std::optional<json> decode_object(std::string_view part) {
  const auto text = common::base64url_decode(part);
  if (!text || !common::json_depth_within(*text, max_json_depth)) return std::nullopt;
  json value = json::parse(*text, nullptr, false);
  if (value.is_discarded() || !value.is_object()) return std::nullopt;
  return value;
}

std::string signature_of(std::string_view signing_input, std::string_view secret) {
  return common::base64url_encode(common::hmac_sha256(secret, signing_input));
}

// A NumericDate (RFC 7519 §2): an integer, or a finite number rounded down. Fractions are rare
// but legal, and some libraries write them.
std::optional<std::int64_t> numeric_date(const json& value) {
  if (value.is_number_unsigned()) {
    const auto v = value.get<std::uint64_t>();
    if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return std::nullopt;
    }
    return static_cast<std::int64_t>(v);
  }
  if (value.is_number_integer()) return value.get<std::int64_t>();
  if (value.is_number_float()) {
    const double v = value.get<double>();
    // 2^62 keeps the conversion exact-enough and far from overflow; real dates are ~2^31.
    if (!std::isfinite(v) || std::fabs(v) > 4.6e18) return std::nullopt;
    return static_cast<std::int64_t>(std::floor(v));
  }
  return std::nullopt;
}

// A list of valid patterns, at most max_token_patterns long.
std::optional<std::vector<std::string>> pattern_list(const json& value) {
  if (!value.is_array() || value.size() > max_token_patterns) return std::nullopt;
  std::vector<std::string> out;
  out.reserve(value.size());
  for (const auto& p : value) {
    if (!p.is_string()) return std::nullopt;
    auto s = p.get<std::string>();
    if (validate_pattern(s)) return std::nullopt;
    out.push_back(std::move(s));
  }
  return out;
}

const json* find(const json& object, const char* key) {
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::variant<client_claims, token_error> read_claims(const json& payload, std::int64_t now) {
  client_claims c;
  const json* exp = find(payload, "exp");
  if (!exp) return token_error::bad_claims;
  const auto expires_at = numeric_date(*exp);
  if (!expires_at) return token_error::bad_claims;
  c.expires_at = *expires_at;

  const json* sub = find(payload, "sub");
  if (!sub || !sub->is_string()) return token_error::bad_claims;
  c.user = sub->get<std::string>();
  if (c.user.empty() || c.user.size() > max_token_user_bytes) return token_error::bad_claims;

  const json* prj = find(payload, "prj");
  if (!prj || !prj->is_string() || !common::is_valid_id("prj", prj->get<std::string>())) {
    return token_error::bad_claims;
  }
  c.project_id = prj->get<std::string>();

  const json* patterns = find(payload, "patterns");
  if (!patterns) return token_error::bad_claims;
  auto subscribe = pattern_list(*patterns);
  if (!subscribe) return token_error::bad_claims;
  c.patterns = std::move(*subscribe);

  if (const json* publish = find(payload, "publish"); publish && !publish->is_null()) {
    auto list = pattern_list(*publish);
    if (!list) return token_error::bad_claims;
    c.publish = std::move(*list);
  }

  if (const json* consumer = find(payload, "consumer_id"); consumer && !consumer->is_null()) {
    if (!consumer->is_string() || !common::is_valid_id("con", consumer->get<std::string>())) {
      return token_error::bad_claims;
    }
    c.consumer_id = consumer->get<std::string>();
  }

  if (const json* iat = find(payload, "iat")) {
    const auto issued_at = numeric_date(*iat);
    if (!issued_at) return token_error::bad_claims;
    c.issued_at = *issued_at;
  }
  if (const json* nbf = find(payload, "nbf")) {
    const auto not_before = numeric_date(*nbf);
    if (!not_before || *not_before > now + token_clock_skew_seconds) {
      return token_error::bad_claims;
    }
  }
  // RFC 7519 §4.1.4: not accepted "on or after" the expiration time.
  if (now >= c.expires_at) return token_error::expired;
  return c;
}

}  // namespace

std::string mint_client_token(const client_claims& claims, std::string_view secret) {
  if (secret.empty()) throw std::invalid_argument("client token: empty secret");
  json payload{{"sub", claims.user},
               {"exp", claims.expires_at},
               {"prj", claims.project_id},
               {"patterns", claims.patterns}};
  if (claims.issued_at != 0) payload["iat"] = claims.issued_at;
  if (!claims.publish.empty()) payload["publish"] = claims.publish;
  if (claims.consumer_id) payload["consumer_id"] = *claims.consumer_id;
  std::string token = encoded_header();
  token += '.';
  token += common::base64url_encode(payload.dump());
  token += '.' + signature_of(token, secret);
  return token;
}

std::string_view to_string(token_error e) {
  switch (e) {
    case token_error::malformed: return "malformed token";
    case token_error::bad_signature: return "bad token signature";
    case token_error::wrong_algorithm: return "token algorithm is not HS256";
    case token_error::expired: return "token expired";
    case token_error::bad_claims: return "invalid token claims";
  }
  return "invalid token";
}

std::variant<client_claims, token_error> verify_client_token(std::string_view token,
                                                             std::string_view secret,
                                                             std::int64_t now) {
  const auto parts = split_token(token);
  if (!parts) return token_error::malformed;
  const auto header = decode_object(parts->header);
  if (!header) return token_error::malformed;
  // The algorithm is fixed by us, never chosen by the token: "none" and every other algorithm
  // (including the case variants "hs256" and "None") are refused before any key is used.
  const json* alg = find(*header, "alg");
  if (!alg || !alg->is_string() || alg->get<std::string>() != algorithm) {
    return token_error::wrong_algorithm;
  }
  // RFC 7515 §4.1.11: extensions we do not understand must make the token invalid.
  if (header->contains("crit")) return token_error::malformed;
  if (const json* typ = find(*header, "typ")) {
    if (!typ->is_string()) return token_error::malformed;
    // "JWT", or the full media type; compared case-insensitively (RFC 7515 §4.1.9).
    auto t = typ->get<std::string>();
    for (auto& ch : t) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (t != "jwt" && t != "application/jwt") return token_error::malformed;
  }
  // The encoding is canonical (base64url without padding, zero trailing bits), so comparing the
  // encoded signatures is comparing the MACs, and it is done in constant time.
  if (secret.empty() ||
      !common::constant_time_equal(signature_of(parts->signing_input, secret), parts->signature)) {
    return token_error::bad_signature;
  }
  const auto payload = decode_object(parts->payload);
  if (!payload) return token_error::malformed;
  return read_claims(*payload, now);
}

std::optional<std::string> token_project(std::string_view token) {
  const auto parts = split_token(token);
  if (!parts) return std::nullopt;
  const auto payload = decode_object(parts->payload);
  if (!payload) return std::nullopt;
  const json* prj = find(*payload, "prj");
  if (!prj || !prj->is_string() || !common::is_valid_id("prj", prj->get<std::string>())) {
    return std::nullopt;
  }
  return prj->get<std::string>();
}

}  // namespace psig::domain
