#pragma once
// Requests and responses as handlers see them: plain values, no Beast types, so handlers and
// their tests do not compile Beast.
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace psig::http {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct request {
  std::string method;  // upper case, "GET"
  std::string path;    // without the query string
  std::string query;   // raw, without '?'
  header_list headers;  // names lower-cased
  std::string body;
  std::string request_id;
  std::string remote_address;
  std::unordered_map<std::string, std::string> params;  // path parameters of the matched route

  std::optional<std::string_view> header(std::string_view lower_name) const;
  // Percent-decoded ('+' is a space); the first occurrence wins.
  std::optional<std::string> query_param(std::string_view name) const;
  const std::string& param(const std::string& name) const { return params.at(name); }
};

struct response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  header_list headers;
};

response json_response(int status, const nlohmann::json& body);
response empty_response(int status);  // 204 and friends

// The error body of DESIGN §7:
//   {"error": {"code", "message", "details": [...]}, "request_id": "..."}
response error_response(const request& req, int status, std::string_view code,
                        std::string_view message,
                        nlohmann::json details = nlohmann::json::array());

std::string percent_decode(std::string_view in, bool plus_is_space);

}  // namespace psig::http
