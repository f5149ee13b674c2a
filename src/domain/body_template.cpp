#include "psig/domain/body_template.hpp"

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "domain/json_path.hpp"

namespace psig::domain {
namespace {

using json = nlohmann::json;

constexpr std::size_t max_template_bytes = std::size_t{64} * 1024;
constexpr std::size_t max_placeholders = 256;
// Not in the header's limits: templates are hand-written bodies, and this bounds recursion.
constexpr int max_depth = 32;

struct segment {
  std::string_view text;  // literal text, or the trimmed path of a placeholder
  bool placeholder;
};

std::string_view trim(std::string_view s) {
  const auto blank = [](char c) { return c == ' ' || c == '\t'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

// A lone "}}" is literal text; there is no escape for "{{" because bodies rarely need one.
std::optional<std::string> split(std::string_view s, std::vector<segment>& out) {
  std::size_t pos = 0;
  while (true) {
    const std::size_t open = s.find("{{", pos);
    if (open == std::string_view::npos) {
      if (pos < s.size()) out.push_back({s.substr(pos), false});
      return std::nullopt;
    }
    if (open > pos) out.push_back({s.substr(pos, open - pos), false});
    const std::size_t close = s.find("}}", open + 2);
    if (close == std::string_view::npos) return "unclosed {{";
    out.push_back({trim(s.substr(open + 2, close - open - 2)), true});
    pos = close + 2;
  }
}

// Filter path rules; braces and blanks are refused too since inside a placeholder they are
// almost always a typo.
bool valid_path(std::string_view path) {
  const auto stray = [](char c) {
    return c == '{' || c == '}' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
  };
  return !validate_path(path) && std::none_of(path.begin(), path.end(), stray);
}

const json* resolve(const json& envelope, std::string_view path) {
  return valid_path(path) ? lookup(envelope, path) : nullptr;
}

std::string to_text(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  // Replace instead of throwing on invalid UTF-8 that may sit in event data.
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

class validator {
 public:
  std::optional<std::string> walk(const json& value, const std::string& where, int depth) {
    if (depth > max_depth) return where + ": nested deeper than 32 levels";
    if (value.is_string()) return check_string(value.get_ref<const std::string&>(), where);
    if (value.is_object()) {
      for (auto it = value.begin(); it != value.end(); ++it) {
        if (auto e = walk(it.value(), where + "." + it.key(), depth + 1)) return e;
      }
    } else if (value.is_array()) {
      for (std::size_t i = 0; i < value.size(); ++i) {
        if (auto e = walk(value[i], where + "[" + std::to_string(i) + "]", depth + 1)) return e;
      }
    }
    return std::nullopt;
  }

 private:
  std::optional<std::string> check_string(std::string_view s, const std::string& where) {
    std::vector<segment> segments;
    if (auto e = split(s, segments)) return where + ": " + *e;
    for (const auto& seg : segments) {
      if (!seg.placeholder) continue;
      if (++placeholders_ > max_placeholders) return where + ": more than 256 placeholders";
      if (seg.text.empty()) return where + ": empty placeholder";
      if (!valid_path(seg.text)) return where + ": invalid path '" + std::string(seg.text) + "'";
    }
    return std::nullopt;
  }

  std::size_t placeholders_ = 0;
};

json render_string(const std::string& s, const json& envelope) {
  std::vector<segment> segments;
  // Unvalidated input: a broken template renders as its literal text rather than failing.
  if (split(s, segments)) return s;
  if (segments.size() == 1 && segments[0].placeholder) {
    const json* value = resolve(envelope, segments[0].text);
    return value != nullptr ? *value : json(nullptr);
  }
  std::string out;
  out.reserve(s.size());
  for (const auto& seg : segments) {
    if (!seg.placeholder) {
      out += seg.text;
    } else if (const json* value = resolve(envelope, seg.text)) {
      out += to_text(*value);
    }
  }
  return out;
}

json render(const json& tmpl, const json& envelope, int depth) {
  if (depth > max_depth) return tmpl;
  if (tmpl.is_string()) return render_string(tmpl.get_ref<const std::string&>(), envelope);
  if (tmpl.is_object()) {
    json out = json::object();
    for (auto it = tmpl.begin(); it != tmpl.end(); ++it) {
      out[it.key()] = render(it.value(), envelope, depth + 1);
    }
    return out;
  }
  if (tmpl.is_array()) {
    json out = json::array();
    for (const auto& item : tmpl) out.push_back(render(item, envelope, depth + 1));
    return out;
  }
  return tmpl;
}

}  // namespace

std::optional<std::string> validate_template(const json& tmpl) {
  validator v;
  if (auto e = v.walk(tmpl, "body", 0)) return e;
  // Measured after the walk so that serialising is known to recurse only boundedly.
  if (tmpl.dump(-1, ' ', false, json::error_handler_t::replace).size() > max_template_bytes) {
    return "body: longer than 65536 bytes";
  }
  return std::nullopt;
}

json render_template(const json& tmpl, const json& envelope) {
  return render(tmpl, envelope, 0);
}

}  // namespace psig::domain
