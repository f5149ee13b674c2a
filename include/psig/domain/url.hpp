#pragma once
// Consumer URL validation: http/https only, no userinfo, bounded length.
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace psig::domain {

struct http_url {
  std::string scheme;  // "http" or "https", lower-cased
  std::string host;    // lower-cased; an IPv6 literal without its brackets
  std::uint16_t port = 0;  // explicit or the scheme's default
  std::string target;  // path + optional "?query", at least "/"; no fragment
  bool ipv6_literal = false;
};

// Either the parsed URL or a human-readable reason ("scheme must be http or https",
// "userinfo is not allowed", ...). Rejects: length > 2048, whitespace or control characters,
// empty host, port 0 or > 65535 or non-numeric, a fragment, unbalanced IPv6 brackets.
std::variant<http_url, std::string> parse_http_url(std::string_view text);

}  // namespace psig::domain
