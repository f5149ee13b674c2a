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
// timestamptz[] where the elements are their text. Built element by element, so that a batch's
// columns are written straight into their literals (no copy of each value in between).
class array_literal {
 public:
  void add(const std::string& item) {
    separate();
    out_ += '"';
    for (const char ch : item) {
      if (ch == '"' || ch == '\\') out_ += '\\';
      out_ += ch;
    }
    out_ += '"';
  }
  void add_opt(const std::optional<std::string>& item) {
    if (item) {
      add(*item);
    } else {
      separate();
      out_ += "NULL";
    }
  }
  bool empty() const { return out_.size() == 1; }
  std::string str() const { return out_ + "}"; }

 private:
  void separate() {
    if (!empty()) out_ += ',';
  }
  std::string out_ = "{";
};

inline std::string text_array(const std::vector<std::string>& items) {
  array_literal a;
  for (const auto& item : items) a.add(item);
  return a.str();
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
