#pragma once
// Who is calling (admin token, login session or API key) and which project they may touch.
// Another tenant's project answers exactly like a project that does not exist: 404.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/context.hpp"
#include "psig/http/message.hpp"
#include "psig/storage/models.hpp"

namespace psig::api {

struct principal {
  enum class kind { admin, account, api_key };
  kind type = kind::account;
  std::string account_id;  // account
  std::string email;       // account
  std::string key_id;      // api_key
  std::string project_id;  // api_key: the only project it can see
  std::vector<std::string> scopes;

  bool has_scope(std::string_view scope) const;
};

struct access {
  std::optional<principal> who;
  std::optional<storage::project> project;
  http::response error;  // meaningful when !ok()
  bool ok() const { return who.has_value(); }
};

// 401 when the Authorization header is missing, malformed, unknown, expired or revoked.
awaitable<access> authenticate(api_context& ctx, const http::request& req);

// authenticate() plus the {project} path parameter: admin sees every project, an account its
// own, an API key its own project and only with `key_scope` (403 otherwise). With
// `accounts_only`, API keys get 403 even on their own project.
awaitable<access> project_access(api_context& ctx, const http::request& req,
                                 std::string_view key_scope, bool accounts_only = false);

}  // namespace psig::api
