#pragma once
// Helpers shared by the repositories (pqxx stays inside src/storage).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "psig/storage/models.hpp"

namespace psig::storage::pg {

// SQL expression rendering a timestamptz column as RFC 3339 UTC with milliseconds.
inline std::string ts(std::string_view column) {
  return "to_char(" + std::string(column) +
         R"( AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))";
}

// libpqxx 6 sends a null `const char*` as SQL NULL; it has no std::optional parameters.
inline const char* nullable(const std::optional<std::string>& v) {
  return v ? v->c_str() : nullptr;
}

// "a,b,c": SQL fragments (quoted values, VALUES rows) joined for an IN list or VALUES.
inline std::string comma_list(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

// A PostgreSQL array literal of text ({"a","b\"c",NULL}), to pass a list as one parameter of a
// prepared statement (libpqxx 6 has no array parameters): every element quoted, with its
// backslashes and double quotes escaped; an empty optional is NULL. Cast to int[] or
// timestamptz[] where the elements are their text.
inline void append_array_element(std::string& out, const std::string& item) {
  if (out.size() > 1) out += ',';
  out += '"';
  for (const char ch : item) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  out += '"';
}

inline std::string text_array(const std::vector<std::string>& items) {
  std::string out = "{";
  for (const auto& item : items) append_array_element(out, item);
  return out + "}";
}

inline std::string text_array(const std::vector<std::optional<std::string>>& items) {
  std::string out = "{";
  for (const auto& item : items) {
    if (item) append_array_element(out, *item);
    else out += out.size() > 1 ? ",NULL" : "NULL";
  }
  return out + "}";
}

// Runs `name` (defined here as `definition` on first use; a no-op afterwards) with its generic
// plan, `args` being the EXECUTE's SQL argument list ("(1, 'x')"), after `prefix` (more SET
// LOCALs) in the same query string: one round trip, one transaction. For the hot statements
// whose planning cost more than running them; their generic plans are checked with EXPLAIN.
// Only SET LOCAL: every other statement keeps its custom plan. Inside a transaction of the
// caller's, prepare first and run `generic_call` in it.
inline void prepare(pqxx::connection& c, const std::string& name, const std::string& definition) {
  c.prepare(name, definition);
  c.prepare_now(name);
}

inline std::string generic_call(const std::string& name, const std::string& args,
                                const std::string& prefix = {}) {
  return prefix + "SET LOCAL plan_cache_mode = force_generic_plan; EXECUTE " + name + args;
}

inline pqxx::result exec_generic(pqxx::connection& c, const std::string& name,
                                 const std::string& definition, const std::string& args,
                                 const std::string& prefix = {}) {
  prepare(c, name, definition);
  pqxx::nontransaction w(c);
  return w.exec(generic_call(name, args, prefix));
}

inline std::optional<std::string> opt_string(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<std::string>();
}

inline nlohmann::json json_or_null(const pqxx::field& f) {
  if (f.is_null()) return nullptr;
  return nlohmann::json::parse(f.c_str());
}

// Rows were fetched with LIMIT limit + 1: the extra row only says that another page exists.
template <class T, class Map>
page<T> to_page(const pqxx::result& r, std::size_t limit, Map map_row) {
  page<T> p;
  for (std::size_t i = 0; i < r.size() && i < limit; ++i) p.items.push_back(map_row(r[i]));
  if (r.size() > limit && !p.items.empty()) p.next_cursor = p.items.back().id;
  return p;
}

}  // namespace psig::storage::pg
