#include "psig/domain/pattern.hpp"

#include <string>

namespace psig::domain {
namespace {

bool is_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

std::string token_error(std::size_t index, std::string_view what) {
  std::string out = "token ";
  out += std::to_string(index);
  out += ' ';
  out += what;
  return out;
}

// Shared by types and patterns so both report the same messages in the same order: size limits
// first (cheap, and they bound the rest), then the first bad token from the left.
std::optional<std::string> validate(std::string_view text, bool wildcards) {
  if (text.empty()) return "must not be empty";
  if (text.size() > max_type_bytes) return "longer than 255 bytes";
  std::size_t index = 0;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = text.find('.', start);
    const bool last = dot == std::string_view::npos;
    const std::string_view token = text.substr(start, last ? std::string_view::npos : dot - start);
    ++index;
    if (index > max_type_tokens) return "more than 16 tokens";
    if (token.empty()) return token_error(index, "is empty");
    if (token == "*" || token == ">") {
      if (!wildcards) return token_error(index, "is a wildcard, not allowed in an event type");
      if (token == ">" && !last) return "'>' may only be the last token";
    } else {
      for (char c : token) {
        if (is_token_char(c)) continue;
        if (wildcards && (c == '*' || c == '>')) {
          return token_error(index, "mixes a wildcard with other characters");
        }
        return token_error(index, "has an invalid character");
      }
    }
    if (last) return std::nullopt;
    start = dot + 1;
  }
}

// Splits off the first token; `rest` becomes empty after the last one.
std::string_view next_token(std::string_view& rest, bool& more) {
  const std::size_t dot = rest.find('.');
  if (dot == std::string_view::npos) {
    const std::string_view token = rest;
    rest = {};
    more = false;
    return token;
  }
  const std::string_view token = rest.substr(0, dot);
  rest.remove_prefix(dot + 1);
  more = true;
  return token;
}

}  // namespace

std::optional<std::string> validate_event_type(std::string_view type) {
  return validate(type, false);
}

std::optional<std::string> validate_pattern(std::string_view pattern) {
  return validate(pattern, true);
}

bool pattern_covers(std::string_view outer, std::string_view inner) {
  bool outer_more = true;
  bool inner_more = true;
  while (outer_more) {
    if (!inner_more) return false;  // inner matches shorter types than outer accepts
    const std::string_view o = next_token(outer, outer_more);
    const std::string_view i = next_token(inner, inner_more);
    if (o == ">") return true;        // one or more tokens: covers '>', '*' and literals
    if (i == ">") return false;       // inner reaches types longer than outer can
    if (o != "*" && o != i) return false;  // a literal covers only itself ('*' covers both)
  }
  return !inner_more;
}

bool pattern_matches(std::string_view pattern, std::string_view type) {
  bool pattern_more = true;
  bool type_more = true;
  while (pattern_more) {
    if (!type_more) return false;  // pattern has tokens left, type does not
    const std::string_view p = next_token(pattern, pattern_more);
    const std::string_view t = next_token(type, type_more);
    if (p == ">") return true;  // the current type token is the "one or more"
    if (p != "*" && p != t) return false;
  }
  return !type_more;
}

}  // namespace psig::domain
