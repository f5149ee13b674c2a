#include "psig/domain/url.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>

namespace psig::domain {
namespace {

constexpr std::size_t max_url_length = 2048;
constexpr std::size_t max_host_length = 253;

char to_lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), to_lower);
  return out;
}

bool is_hex(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) != 0;
}

// Bytes a request line cannot carry verbatim; non-ASCII must arrive percent-encoded (hosts as
// punycode) so what we validate is what goes on the wire.
bool has_forbidden_byte(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto b = static_cast<unsigned char>(c);
    return b <= 0x20 || b >= 0x7f;
  });
}

bool valid_percent_encoding(std::string_view text) {
  for (std::size_t i = text.find('%'); i != std::string_view::npos; i = text.find('%', i + 1)) {
    if (i + 2 >= text.size() || !is_hex(text[i + 1]) || !is_hex(text[i + 2])) return false;
  }
  return true;
}

// Letters, digits, '-', '_' and non-empty dot-separated labels (a trailing dot is allowed).
bool valid_reg_name(std::string_view host) {
  if (host.empty() || host.size() > max_host_length + 1) return false;
  std::size_t label = 0;
  for (std::size_t i = 0; i < host.size(); ++i) {
    const char c = host[i];
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '-' && c != '_') return false;
    if (++label > 63) return false;
  }
  return true;
}

bool valid_ipv6(const std::string& host) {
  std::array<unsigned char, 16> addr{};
  return inet_pton(AF_INET6, host.c_str(), addr.data()) == 1;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  unsigned value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// Fills host, port and ipv6_literal from "host[:port]"; returns an error message or "".
std::string parse_authority(std::string_view authority, http_url& url) {
  if (authority.find('@') != std::string_view::npos) return "userinfo is not allowed";
  std::string_view host;
  std::string_view rest;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return "unbalanced IPv6 brackets";
    host = authority.substr(1, close - 1);
    rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return "unexpected characters after IPv6 address";
    url.ipv6_literal = true;
  } else {
    if (authority.find_first_of("[]") != std::string_view::npos) {
      return "unbalanced IPv6 brackets";
    }
    const std::size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view{} : authority.substr(colon);
  }
  if (host.empty()) return "host is empty";
  url.host = lower(host);
  if (url.ipv6_literal ? !valid_ipv6(url.host) : !valid_reg_name(url.host)) {
    return url.ipv6_literal ? "invalid IPv6 address" : "invalid host name";
  }
  if (!rest.empty()) {
    const auto port = parse_port(rest.substr(1));
    if (!port) return "port must be a number from 1 to 65535";
    url.port = *port;
  }
  return {};
}

}  // namespace

std::variant<http_url, std::string> parse_http_url(std::string_view text) {
  if (text.empty()) return std::string("URL is empty");
  if (text.size() > max_url_length) return std::string("URL is longer than 2048 characters");
  if (has_forbidden_byte(text)) {
    return std::string("URL contains whitespace, control or non-ASCII characters");
  }
  if (text.find('#') != std::string_view::npos) return std::string("fragment is not allowed");
  // WHATWG parsers read a backslash as '/', RFC 3986 ones do not; refusing it keeps the host we
  // check and the host a client connects to the same.
  if (text.find('\\') != std::string_view::npos) return std::string("backslash is not allowed");

  const std::size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return std::string("scheme must be http or https");
  http_url url;
  url.scheme = lower(text.substr(0, scheme_end));
  if (url.scheme != "http" && url.scheme != "https") {
    return std::string("scheme must be http or https");
  }

  const std::string_view after_scheme = text.substr(scheme_end + 3);
  const std::size_t authority_end = after_scheme.find_first_of("/?");
  const std::string_view authority = after_scheme.substr(0, authority_end);
  if (std::string error = parse_authority(authority, url); !error.empty()) return error;
  if (url.port == 0) url.port = url.scheme == "https" ? 443 : 80;

  const std::string_view target = authority_end == std::string_view::npos
                                      ? std::string_view{}
                                      : after_scheme.substr(authority_end);
  if (!valid_percent_encoding(target)) return std::string("invalid percent-encoding");
  url.target =
      target.empty() || target.front() == '?' ? "/" + std::string(target) : std::string(target);
  return url;
}

}  // namespace psig::domain
