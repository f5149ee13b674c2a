#pragma once
// Request-body checks that end in the error body of DESIGN §7, naming every bad field.
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "psig/http/message.hpp"
#include "psig/storage/models.hpp"

namespace psig::api {

// The body as a JSON object. Otherwise `error` is set: 415 (not JSON), 400 (malformed, too
// deep, not an object). An empty body is an empty object when `empty_ok`.
std::optional<nlohmann::json> parse_object_body(const http::request& req, http::response& error,
                                                bool empty_ok = false);

class validator {
 public:
  explicit validator(const nlohmann::json& body) : body_(body) {}

  void fail(std::string field, std::string message);
  // Every key must be in `allowed`.
  void only(std::initializer_list<std::string_view> allowed);
  bool has(const char* field) const { return body_.contains(field); }

  // Present, a string, and max_len >= length >= min_len (in bytes, valid UTF-8).
  std::optional<std::string> string(const char* field, bool required, std::size_t min_len,
                                    std::size_t max_len);

  bool ok() const { return details_.empty(); }
  http::response error(const http::request& req) const;  // 400 validation_failed

 private:
  const nlohmann::json& body_;
  nlohmann::json details_ = nlohmann::json::array();
};

// ?limit= (1-200, default 50) and ?cursor= (an id with `id_prefix`); nullopt + `error` if bad.
std::optional<storage::page_request> page_params(const http::request& req,
                                                 std::string_view id_prefix,
                                                 http::response& error);

template <class T, class ToJson>
nlohmann::json page_json(const storage::page<T>& p, ToJson to_json) {
  nlohmann::json data = nlohmann::json::array();
  for (const auto& item : p.items) data.push_back(to_json(item));
  return {{"data", std::move(data)},
          {"next_cursor", p.next_cursor ? nlohmann::json(*p.next_cursor) : nlohmann::json()}};
}

http::response not_found(const http::request& req, std::string_view what);

}  // namespace psig::api
