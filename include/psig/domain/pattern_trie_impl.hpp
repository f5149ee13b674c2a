#pragma once
// Template member definitions of pattern_trie<T>; included at the bottom of pattern.hpp.
#include <array>
#include <cstddef>
#include <string_view>
#include <utility>

#include "psig/domain/pattern.hpp"

namespace psig::domain {
namespace detail {

// A type split into tokens without allocating; valid types have at most max_type_tokens.
struct type_tokens {
  std::array<std::string_view, max_type_tokens> tokens;
  std::size_t count = 0;
};

// False when the type has more tokens than any valid type may: such a type matches nothing,
// and refusing it keeps the work per call bounded for unvalidated input.
inline bool split_type(std::string_view type, type_tokens& out) {
  if (type.empty()) return false;
  out.count = 0;
  while (true) {
    if (out.count == max_type_tokens) return false;
    const std::size_t dot = type.find('.');
    if (dot == std::string_view::npos) {
      out.tokens[out.count++] = type;
      return true;
    }
    out.tokens[out.count++] = type.substr(0, dot);
    type.remove_prefix(dot + 1);
  }
}

}  // namespace detail

template <class T>
void pattern_trie<T>::insert(std::string_view pattern, T value) {
  node* current = &root_;
  while (true) {
    const std::size_t dot = pattern.find('.');
    const std::string_view token = dot == std::string_view::npos ? pattern : pattern.substr(0, dot);
    if (token == ">") {
      // Validation puts '>' last; anything after it would be unreachable anyway.
      current->tail_values.push_back(std::move(value));
      ++size_;
      return;
    }
    std::unique_ptr<node>* child;
    if (token == "*") {
      child = &current->star;
    } else {
      auto it = current->children.find(token);
      if (it == current->children.end()) {
        it = current->children.emplace(std::string(token), nullptr).first;
      }
      child = &it->second;
    }
    if (!*child) *child = std::make_unique<node>();
    current = child->get();
    if (dot == std::string_view::npos) break;
    pattern.remove_prefix(dot + 1);
  }
  current->values.push_back(std::move(value));
  ++size_;
}

template <class T>
template <class Fn>
void pattern_trie<T>::match(std::string_view type, Fn&& fn) const {
  detail::type_tokens split;
  if (!detail::split_type(type, split)) return;
  // Recursion depth is at most the token count (<= max_type_tokens); each level branches into
  // at most the exact child and the '*' child.
  auto walk = [&](auto& self, const node& n, std::size_t i) -> void {
    if (i == split.count) {
      for (const T& v : n.values) fn(v);
      return;
    }
    for (const T& v : n.tail_values) fn(v);
    if (auto it = n.children.find(split.tokens[i]); it != n.children.end()) {
      self(self, *it->second, i + 1);
    }
    if (n.star) self(self, *n.star, i + 1);
  };
  walk(walk, root_, 0);
}

template <class T>
std::vector<T> pattern_trie<T>::match(std::string_view type) const {
  std::vector<T> out;
  match(type, [&out](const T& v) { out.push_back(v); });
  return out;
}

}  // namespace psig::domain
