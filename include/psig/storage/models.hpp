#pragma once
// Rows as the rest of the program sees them. Timestamps are RFC 3339 strings, formatted by
// PostgreSQL, because they only travel to JSON.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace psig::storage {

struct account {
  std::string id;
  std::string email;
  std::string password_hash;
  std::string created_at;
};

struct project {
  std::string id;
  std::optional<std::string> account_id;  // none: made with the bootstrap admin token
  std::string name;
  nlohmann::json settings = nlohmann::json::object();
  int retention_days = 30;
  std::string realtime_secret;
  std::string created_at;
  std::string updated_at;
};

struct api_key {
  std::string id;
  std::string project_id;
  std::string name;
  std::string prefix;
  std::string key_hash;
  std::vector<std::string> scopes;
  std::string created_at;
  std::optional<std::string> revoked_at;
};

struct consumer {
  std::string id;
  std::string project_id;
  std::string name;
  std::string kind;  // webhook | push | email | websocket
  std::optional<std::string> url;
  nlohmann::json headers = nlohmann::json::object();
  nlohmann::json body_template;  // null unless push/email
  nlohmann::json settings = nlohmann::json::object();
  std::string status = "enabled";
  std::optional<std::string> disabled_reason;
  std::string secret;
  std::optional<std::string> previous_secret;
  std::optional<std::string> previous_secret_expires_at;
  std::string created_at;
  std::string updated_at;
};

struct subscription {
  std::string id;
  std::string project_id;
  std::string consumer_id;
  std::string pattern;
  nlohmann::json filter;  // null when none
  std::string created_at;
};

// Lists page by id (ids are time-ordered): the cursor is the last id of the previous page.
struct page_request {
  std::size_t limit = 50;
  std::optional<std::string> cursor;
};

template <class T>
struct page {
  std::vector<T> items;
  std::optional<std::string> next_cursor;
};

}  // namespace psig::storage
