#include "domain/json_path.hpp"

#include <array>
#include <utility>

#include <nlohmann/json.hpp>

namespace psig::domain {
namespace {

using json = nlohmann::json;

// Digits only and short enough not to overflow; anything else is looked up as an object key only.
std::size_t as_index(std::string_view token) {
  if (token.empty() || token.size() > 9) return not_an_index;
  std::size_t value = 0;
  for (char c : token) {
    if (c < '0' || c > '9') return not_an_index;
    value = value * 10 + static_cast<std::size_t>(c - '0');
  }
  return value;
}

// Calls on_token for each token of a valid path; the reason otherwise. Tokens seen before a
// fault have already been passed on, so callers must discard them on error.
template <typename OnToken>
std::optional<std::string> scan(std::string_view path, OnToken&& on_token) {
  if (path.empty()) return "must not be empty";
  if (path.size() > max_path_bytes) return "longer than 255 bytes";
  std::size_t count = 0;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = path.find('.', start);
    const std::string_view token =
        path.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (count == max_path_tokens) return "more than 16 tokens";
    if (token.empty()) return "token " + std::to_string(count + 1) + " is empty";
    ++count;
    on_token(token);
    if (dot == std::string_view::npos) return std::nullopt;
    start = dot + 1;
  }
}

const json* step(const json& current, std::string_view key, std::size_t index) {
  if (current.is_object()) {
    const auto it = current.find(key);
    return it == current.end() ? nullptr : &*it;
  }
  if (current.is_array() && index != not_an_index && index < current.size()) {
    return &current[index];
  }
  return nullptr;
}

}  // namespace

std::optional<std::string> validate_path(std::string_view path) {
  return scan(path, [](std::string_view) {});
}

std::optional<std::string> parse_path(std::string_view path, json_path& out) {
  json_path tokens;
  auto error = scan(path, [&](std::string_view token) {
    tokens.push_back({std::string(token), as_index(token)});
  });
  if (!error) out = std::move(tokens);
  return error;
}

const json* lookup(const json& root, const json_path& path) {
  const json* current = &root;
  for (const auto& token : path) {
    current = step(*current, token.key, token.index);
    if (current == nullptr) return nullptr;
  }
  return current;
}

const json* lookup(const json& root, std::string_view path) {
  // Split fully before walking so that an invalid path never half-resolves ("a..b" finding a
  // key ""); scan stops before a 17th token, so the array cannot overflow.
  std::array<std::string_view, max_path_tokens> tokens;
  std::size_t count = 0;
  if (scan(path, [&](std::string_view token) { tokens[count++] = token; })) return nullptr;
  const json* current = &root;
  for (std::size_t i = 0; i < count && current != nullptr; ++i) {
    current = step(*current, tokens[i], as_index(tokens[i]));
  }
  return current;
}

}  // namespace psig::domain
