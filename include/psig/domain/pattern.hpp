#pragma once
// Event types and subscription patterns (DESIGN §2).
//   type:    1-16 tokens joined by '.', token = [A-Za-z0-9_-]+, at most 255 bytes.
//   pattern: same tokens, or '*' (exactly one token), or '>' (one or more trailing tokens, only
//            as the last token). "chat.message.*", "chat.>", ">", "order.*.paid".
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace psig::domain {

inline constexpr std::size_t max_type_bytes = 255;
inline constexpr std::size_t max_type_tokens = 16;

// nullopt when valid, otherwise a reason such as "token 2 is empty".
std::optional<std::string> validate_event_type(std::string_view type);
std::optional<std::string> validate_pattern(std::string_view pattern);

// Reference matcher, token by token; the trie must agree with it. Both arguments assumed valid.
bool pattern_matches(std::string_view pattern, std::string_view type);

// True when every type that `inner` matches is also matched by `outer` (both valid patterns):
// what a client token allows ("chat.>") against what a client subscribes to ("chat.message.*").
bool pattern_covers(std::string_view outer, std::string_view inner);

// Patterns -> values; match() costs O(tokens of the type x fan-out of wildcards), not
// O(number of patterns). Not thread-safe for writes; concurrent const reads are fine.
template <class T>
class pattern_trie {
 public:
  // The pattern must be valid (validate_pattern). Duplicates are kept.
  void insert(std::string_view pattern, T value);
  // Calls fn(const T&) once per (pattern, value) inserted whose pattern matches `type`.
  template <class Fn>
  void match(std::string_view type, Fn&& fn) const;
  std::vector<T> match(std::string_view type) const;
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  struct node {
    std::map<std::string, std::unique_ptr<node>, std::less<>> children;
    std::unique_ptr<node> star;  // '*'
    std::vector<T> values;       // patterns ending here
    std::vector<T> tail_values;  // patterns ending here with '>'
  };
  node root_;
  std::size_t size_ = 0;
};

}  // namespace psig::domain

#include "psig/domain/pattern_trie_impl.hpp"
