#pragma once
// Dotted paths over JSON values, shared by subscription filters and body templates (DESIGN §2):
// 1-16 non-empty tokens joined by '.', at most 255 bytes, e.g. "data.items.0.sku". On an object
// every token is a key (so {"0": …} stays reachable); on an array only a token of digits indexes.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace psig::domain {

inline constexpr std::size_t max_path_bytes = 255;
inline constexpr std::size_t max_path_tokens = 16;
inline constexpr std::size_t not_an_index = static_cast<std::size_t>(-1);

struct path_token {
  std::string key;
  std::size_t index;  // not_an_index unless the token is a plausible array index
};

using json_path = std::vector<path_token>;

// nullopt when valid; otherwise the reason: "must not be empty", "longer than 255 bytes",
// "more than 16 tokens" or "token <n> is empty" (n counts from 1).
std::optional<std::string> validate_path(std::string_view path);

// Validates as above and, when valid, replaces `out` with the tokens. Splitting once up front
// lets a filter evaluated per event skip re-parsing.
std::optional<std::string> parse_path(std::string_view path, json_path& out);

// The value at `path`, or nullptr when any step is missing (or the path is invalid).
const nlohmann::json* lookup(const nlohmann::json& root, const json_path& path);
const nlohmann::json* lookup(const nlohmann::json& root, std::string_view path);

}  // namespace psig::domain
