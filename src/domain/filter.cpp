#include "psig/domain/filter.hpp"

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "domain/json_path.hpp"

namespace psig::domain {

using json = nlohmann::json;

// nlohmann::json's move is noexcept, but clang-tidy cannot see through it.
struct filter::node {  // NOLINT(bugprone-exception-escape)
  enum class kind { all, any, negate, compare };
  enum class op { eq, ne, gt, gte, lt, lte, in, nin, exists, prefix };

  kind k = kind::all;
  std::vector<node> children;  // all / any / negate (one child)
  json_path path;              // compare
  op o = op::eq;
  json operand;
};

namespace {

using node = filter::node;

constexpr int max_depth = 16;
constexpr std::size_t max_nodes = 256;
constexpr std::size_t max_set_values = 1024;

std::string join(const std::string& where, std::string_view key) {
  if (where.empty()) return std::string(key);
  std::string out = where;
  out += '.';
  out += key;
  return out;
}

// Bounded so that comparing against an operand (deep equality recurses) stays bounded too.
bool deeper_than(const json& value, int limit) {
  if (!value.is_structured()) return false;
  if (limit == 0) return true;
  for (const auto& child : value) {
    if (deeper_than(child, limit - 1)) return true;
  }
  return false;
}

std::optional<node::op> field_op(std::string_view name) {
  using op = node::op;
  static constexpr std::pair<std::string_view, op> ops[] = {
      {"$eq", op::eq},         {"$ne", op::ne},         {"$gt", op::gt}, {"$gte", op::gte},
      {"$lt", op::lt},         {"$lte", op::lte},       {"$in", op::in}, {"$nin", op::nin},
      {"$exists", op::exists}, {"$prefix", op::prefix},
  };
  for (const auto& [n, o] : ops) {
    if (n == name) return o;
  }
  return std::nullopt;
}

bool is_logical(std::string_view name) {
  return name == "$and" || name == "$or" || name == "$not";
}

class parser {
 public:
  std::optional<filter_error> parse_object(const json& spec, const std::string& where, int depth,
                                           node& out) {
    if (!spec.is_object()) return filter_error{where, "must be a JSON object"};
    if (depth > max_depth) return filter_error{where, "nested deeper than 16 levels"};
    if (auto e = count(where)) return e;
    out.k = node::kind::all;
    for (const auto& [key, value] : spec.items()) {
      const std::string here = join(where, key);
      node child;
      std::optional<filter_error> e;
      if (key == "$and" || key == "$or") {
        e = parse_list(value, here, key == "$and", depth, child);
      } else if (key == "$not") {
        child.k = node::kind::negate;
        child.children.emplace_back();
        e = count(here);
        if (!e) e = parse_object(value, here, depth + 1, child.children.back());
      } else if (!key.empty() && key[0] == '$') {
        if (field_op(key)) return filter_error{here, key + " must be used on a path"};
        return filter_error{here, "unknown operator " + key};
      } else {
        e = parse_field(key, value, here, child);
      }
      if (e) return e;
      out.children.push_back(std::move(child));
    }
    return std::nullopt;
  }

 private:
  std::optional<filter_error> count(const std::string& where) {
    if (++nodes_ > max_nodes) return filter_error{where, "more than 256 nodes"};
    return std::nullopt;
  }

  std::optional<filter_error> parse_list(const json& list, const std::string& here, bool all,
                                         int depth, node& out) {
    if (!list.is_array() || list.empty()) {
      return filter_error{here, "must be a non-empty array of filter objects"};
    }
    if (auto e = count(here)) return e;
    out.k = all ? node::kind::all : node::kind::any;
    for (std::size_t i = 0; i < list.size(); ++i) {
      out.children.emplace_back();
      const std::string item = here + "[" + std::to_string(i) + "]";
      if (auto e = parse_object(list[i], item, depth + 1, out.children.back())) return e;
    }
    return std::nullopt;
  }

  std::optional<filter_error> parse_field(const std::string& key, const json& value,
                                          const std::string& here, node& out) {
    json_path path;
    if (auto reason = parse_path(key, path)) return filter_error{here, "invalid path: " + *reason};

    bool any_op = false;
    bool all_ops = true;
    if (value.is_object()) {
      for (auto it = value.begin(); it != value.end(); ++it) {
        const bool is_op = !it.key().empty() && it.key()[0] == '$';
        any_op = any_op || is_op;
        all_ops = all_ops && is_op;
      }
    }
    if (!any_op) return make_compare(path, node::op::eq, "$eq", value, here, out);
    if (!all_ops) return filter_error{here, "mixes operators and plain keys"};

    if (auto e = count(here)) return e;
    out.k = node::kind::all;
    for (const auto& [name, operand] : value.items()) {
      const std::string at = join(here, name);
      const auto o = field_op(name);
      if (!o) {
        if (is_logical(name)) return filter_error{at, name + " is not allowed on a path"};
        return filter_error{at, "unknown operator " + name};
      }
      out.children.emplace_back();
      if (auto e = make_compare(path, *o, name, operand, at, out.children.back())) return e;
    }
    return std::nullopt;
  }

  std::optional<filter_error> make_compare(const json_path& path, node::op o,
                                           const std::string& name, const json& operand,
                                           const std::string& at, node& out) {
    using op = node::op;
    switch (o) {
      case op::gt:
      case op::gte:
      case op::lt:
      case op::lte:
        if (!operand.is_number() && !operand.is_string()) {
          return filter_error{at, name + " needs a number or a string"};
        }
        break;
      case op::in:
      case op::nin:
        if (!operand.is_array()) return filter_error{at, name + " needs an array"};
        if (operand.size() > max_set_values) {
          return filter_error{at, name + " has more than 1024 values"};
        }
        break;
      case op::exists:
        if (!operand.is_boolean()) return filter_error{at, "$exists needs true or false"};
        break;
      case op::prefix:
        if (!operand.is_string()) return filter_error{at, "$prefix needs a string"};
        break;
      case op::eq:
      case op::ne:
        break;
    }
    if (deeper_than(operand, max_depth)) {
      return filter_error{at, "value nested deeper than 16 levels"};
    }
    if (auto e = count(at)) return e;
    out.k = node::kind::compare;
    out.path = path;
    out.o = o;
    out.operand = operand;
    return std::nullopt;
  }

  std::size_t nodes_ = 0;
};

// Ordering only between values of one kind; everything else is simply "no match".
bool ordered(const json& value, const json& operand, node::op o) {
  const bool same_kind =
      (value.is_number() && operand.is_number()) || (value.is_string() && operand.is_string());
  if (!same_kind) return false;
  switch (o) {
    case node::op::gt:
      return operand < value;
    case node::op::gte:
      return !(value < operand);
    case node::op::lt:
      return value < operand;
    case node::op::lte:
      return !(operand < value);
    default:
      return false;
  }
}

bool contains(const json& set, const json& value) {
  return std::any_of(set.begin(), set.end(), [&](const json& item) { return item == value; });
}

bool evaluate(const node& n, const json& envelope) {
  switch (n.k) {
    case node::kind::all:
      return std::all_of(n.children.begin(), n.children.end(),
                         [&](const node& c) { return evaluate(c, envelope); });
    case node::kind::any:
      return std::any_of(n.children.begin(), n.children.end(),
                         [&](const node& c) { return evaluate(c, envelope); });
    case node::kind::negate:
      return !evaluate(n.children.front(), envelope);
    case node::kind::compare:
      break;
  }
  const json* value = lookup(envelope, n.path);
  switch (n.o) {
    case node::op::eq:
      return value != nullptr && *value == n.operand;
    case node::op::ne:
      return value == nullptr || !(*value == n.operand);
    case node::op::in:
      return value != nullptr && contains(n.operand, *value);
    case node::op::nin:
      return value == nullptr || !contains(n.operand, *value);
    case node::op::exists:
      return (value != nullptr) == n.operand.get<bool>();
    case node::op::prefix:
      return value != nullptr && value->is_string() &&
             value->get_ref<const std::string&>().starts_with(
                 n.operand.get_ref<const std::string&>());
    default:
      return value != nullptr && ordered(*value, n.operand, n.o);
  }
}

}  // namespace

filter::filter() = default;
filter::~filter() = default;
filter::filter(filter&&) noexcept = default;
filter& filter::operator=(filter&&) noexcept = default;

std::optional<filter_error> filter::parse(const json& spec, filter& out) {
  if (!spec.is_object()) return filter_error{"", "filter must be a JSON object"};
  auto root = std::make_shared<node>();
  parser p;
  if (auto e = p.parse_object(spec, "", 1, *root)) return e;
  out.root_ = std::move(root);
  return std::nullopt;
}

bool filter::matches(const json& envelope) const {
  return root_ == nullptr || evaluate(*root_, envelope);
}

}  // namespace psig::domain
