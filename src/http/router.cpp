#include "psig/http/router.hpp"

namespace psig::http {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t start = 1;  // skip the leading '/'
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    const auto end = slash == std::string_view::npos ? path.size() : slash;
    out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool is_param(std::string_view seg) {
  return seg.size() > 2 && seg.front() == '{' && seg.back() == '}';
}

}  // namespace

void router::add(std::string method, std::string_view pattern, handler h) {
  route r{std::move(method), std::string(pattern), {}, std::move(h)};
  for (auto seg : split_path(pattern)) r.segments.emplace_back(seg);
  routes_.push_back(std::move(r));
}

router::match_result router::match(std::string_view method, std::string_view path) const {
  match_result result;
  if (path.empty() || path.front() != '/') return result;
  const auto segs = split_path(path);
  for (const auto& r : routes_) {
    if (r.segments.size() != segs.size()) continue;
    std::unordered_map<std::string, std::string> params;
    bool ok = true;
    for (std::size_t i = 0; i < segs.size() && ok; ++i) {
      if (is_param(r.segments[i])) {
        // Parameters are ids and names: an empty segment ("//") never matches one.
        ok = !segs[i].empty();
        if (ok) params[r.segments[i].substr(1, r.segments[i].size() - 2)] = percent_decode(segs[i], false);
      } else {
        ok = r.segments[i] == segs[i];
      }
    }
    if (!ok) continue;
    result.path_found = true;
    if (r.method == method) {
      result.target = &r.h;
      result.route = r.pattern;
      result.params = std::move(params);
      return result;
    }
    if (result.allow.find(r.method) == std::string::npos) {
      result.allow += (result.allow.empty() ? "" : ", ") + r.method;
    }
    result.route = r.pattern;
  }
  return result;
}

}  // namespace psig::http
