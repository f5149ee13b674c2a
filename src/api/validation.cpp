#include "api/validation.hpp"

#include <charconv>

#include "psig/common/ids.hpp"
#include "psig/common/json_depth.hpp"

namespace psig::api {
namespace {

constexpr int max_json_depth = 64;

bool valid_utf8(std::string_view s) {
  try {
    (void)nlohmann::json(s).dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

// "application/json", optionally with parameters ("; charset=utf-8"), in any case.
bool is_json_media_type(std::optional<std::string_view> header) {
  if (!header) return false;
  std::string_view type = header->substr(0, header->find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  while (!type.empty() && type.front() == ' ') type.remove_prefix(1);
  constexpr std::string_view json = "application/json";
  return type.size() == json.size() &&
         std::equal(type.begin(), type.end(), json.begin(),
                    [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; });
}

}  // namespace

std::optional<nlohmann::json> parse_object_body(const http::request& req, http::response& error,
                                                bool empty_ok) {
  if (req.body.empty() && empty_ok) return nlohmann::json::object();
  auto details = [](std::string message) {
    return nlohmann::json::array({{{"field", "body"}, {"message", std::move(message)}}});
  };
  if (!is_json_media_type(req.header("content-type"))) {
    error = http::error_response(req, 415, "unsupported_media_type",
                                 "body: send it as application/json",
                                 details("Content-Type must be application/json"));
    return std::nullopt;
  }
  if (!common::json_depth_within(req.body, max_json_depth)) {
    error = http::error_response(req, 400, "validation_failed", "body: JSON nested too deeply",
                                 details("nested deeper than 64 levels"));
    return std::nullopt;
  }
  auto body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded()) {
    error = http::error_response(req, 400, "malformed_json", "body: not valid JSON",
                                 details("not valid JSON"));
    return std::nullopt;
  }
  if (!body.is_object()) {
    error = http::error_response(req, 400, "validation_failed", "body: expected a JSON object",
                                 details("expected a JSON object"));
    return std::nullopt;
  }
  return body;
}

void validator::fail(std::string field, std::string message) {
  details_.push_back({{"field", std::move(field)}, {"message", std::move(message)}});
}

void validator::only(std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : body_.items()) {
    bool known = false;
    for (auto a : allowed) known = known || a == key;
    if (!known) fail(key, "unknown field");
  }
}

std::optional<std::string> validator::string(const char* field, bool required, std::size_t min_len,
                                             std::size_t max_len) {
  const auto it = body_.find(field);
  if (it == body_.end() || it->is_null()) {
    if (required) fail(field, "is required");
    return std::nullopt;
  }
  if (!it->is_string()) {
    fail(field, "must be a string");
    return std::nullopt;
  }
  auto value = it->get<std::string>();
  if (value.size() < min_len || value.size() > max_len) {
    fail(field, "must be " + std::to_string(min_len) + "-" + std::to_string(max_len) + " bytes");
    return std::nullopt;
  }
  if (!valid_utf8(value)) {
    fail(field, "must be valid UTF-8");
    return std::nullopt;
  }
  return value;
}

http::response validator::error(const http::request& req) const {
  std::string message = "invalid request: ";
  for (std::size_t i = 0; i < details_.size(); ++i) {
    if (i > 0) message += "; ";
    message += details_[i]["field"].get<std::string>() + " " + details_[i]["message"].get<std::string>();
  }
  return http::error_response(req, 400, "validation_failed", message, details_);
}

std::optional<storage::page_request> page_params(const http::request& req,
                                                 std::string_view id_prefix,
                                                 http::response& error) {
  storage::page_request page;
  if (auto limit = req.query_param("limit")) {
    std::size_t n = 0;
    const auto [p, e] = std::from_chars(limit->data(), limit->data() + limit->size(), n);
    if (e != std::errc{} || p != limit->data() + limit->size() || n < 1 || n > 200) {
      error = http::error_response(req, 400, "validation_failed", "limit: must be 1-200",
                                   {{{"field", "limit"}, {"message", "must be 1-200"}}});
      return std::nullopt;
    }
    page.limit = n;
  }
  if (auto cursor = req.query_param("cursor"); cursor && !cursor->empty()) {
    if (!common::is_valid_id(id_prefix, *cursor)) {
      error = http::error_response(req, 400, "validation_failed", "cursor: not a cursor of this list",
                                   {{{"field", "cursor"}, {"message", "not a cursor of this list"}}});
      return std::nullopt;
    }
    page.cursor = *cursor;
  }
  return page;
}

http::response not_found(const http::request& req, std::string_view what) {
  return http::error_response(req, 404, "not_found", std::string(what) + " not found");
}

}  // namespace psig::api
