#include "psig/http/message.hpp"

#include <cctype>

namespace psig::http {

std::optional<std::string_view> request::header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return std::string_view(v);
  }
  return std::nullopt;
}

std::optional<std::string> request::query_param(std::string_view name) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    const auto eq = pair.find('=');
    const auto key = percent_decode(pair.substr(0, eq), true);
    if (key != name) continue;
    return eq == std::string_view::npos ? std::string{} : percent_decode(pair.substr(eq + 1), true);
  }
  return std::nullopt;
}

std::string percent_decode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+' && plus_is_space) {
      out += ' ';
    } else if (c == '%' && i + 2 < in.size() &&
               std::isxdigit(static_cast<unsigned char>(in[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += c;  // a stray '%' stays as it is
    }
  }
  return out;
}

response json_response(int status, const nlohmann::json& body) {
  // Replace, not throw, on invalid UTF-8: an echoed client string must not turn into a 500.
  return response{status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json", {}};
}

response empty_response(int status) { return response{status, {}, {}, {}}; }

response error_response(const request& req, int status, std::string_view code,
                        std::string_view message, nlohmann::json details) {
  nlohmann::json body{{"error",
                       {{"code", code}, {"message", message}, {"details", std::move(details)}}},
                      {"request_id", req.request_id}};
  return json_response(status, body);
}

}  // namespace psig::http
