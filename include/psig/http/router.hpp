#pragma once
// Method + path routing with "{name}" segments. A few dozen routes: a linear scan is enough.
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "psig/common/asio.hpp"
#include "psig/http/message.hpp"

namespace psig::http {

using handler = std::function<awaitable<response>(request&)>;

class router {
 public:
  // pattern: "/v1/projects/{project}/keys/{key}".
  void add(std::string method, std::string_view pattern, handler h);

  struct match_result {
    const handler* target = nullptr;  // null: 404 (path_found false) or 405 (path_found true)
    std::string route;                // the pattern, for metrics labels
    std::unordered_map<std::string, std::string> params;
    bool path_found = false;
    std::string allow;  // "GET, POST" for a 405
  };
  match_result match(std::string_view method, std::string_view path) const;

 private:
  struct route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;  // "{x}" marks a parameter
    handler h;
  };
  std::vector<route> routes_;
};

}  // namespace psig::http
