#pragma once
// Data access for the management API. Every method runs its SQL on the PostgreSQL pool and
// resumes the caller on its own executor. Every query of tenant data is scoped by project id:
// an id from another project behaves exactly like an id that does not exist.
#include <optional>
#include <string>
#include <vector>

#include "psig/common/asio.hpp"
#include "psig/storage/delivery_log.hpp"
#include "psig/storage/models.hpp"

namespace psig::storage {

class pg_pool;

class accounts_repo {
 public:
  explicit accounts_repo(pg_pool& pool) : pool_(pool) {}
  // nullopt when the e-mail is taken (case-insensitively).
  awaitable<std::optional<account>> create(account a);
  awaitable<std::optional<account>> find_by_email(std::string email);
  awaitable<std::optional<account>> find(std::string id);
  awaitable<bool> create_session(std::string account_id, std::string token_hash, int ttl_seconds);
  // The account of an unexpired session.
  awaitable<std::optional<account>> find_by_session(std::string token_hash);

 private:
  pg_pool& pool_;
};

class projects_repo {
 public:
  explicit projects_repo(pg_pool& pool) : pool_(pool) {}
  awaitable<project> create(project p);
  awaitable<std::optional<project>> find(std::string id);
  // owner nullopt: every project (the admin's view).
  awaitable<page<project>> list(std::optional<std::string> owner, page_request req);
  awaitable<std::optional<project>> update(project p);  // name, settings, retention_days
  awaitable<bool> remove(std::string id);

 private:
  pg_pool& pool_;
};

class keys_repo {
 public:
  explicit keys_repo(pg_pool& pool) : pool_(pool) {}
  awaitable<api_key> create(api_key k);
  awaitable<page<api_key>> list(std::string project_id, page_request req);
  awaitable<std::optional<api_key>> revoke(std::string project_id, std::string id);
  awaitable<std::optional<api_key>> find_active_by_prefix(std::string prefix);

 private:
  pg_pool& pool_;
};

class consumers_repo {
 public:
  explicit consumers_repo(pg_pool& pool) : pool_(pool) {}
  awaitable<consumer> create(consumer c);
  awaitable<std::optional<consumer>> find(std::string project_id, std::string id);
  awaitable<page<consumer>> list(std::string project_id, page_request req);
  // The project's websocket consumers (any status), oldest first.
  awaitable<std::vector<consumer>> websocket_consumers(std::string project_id);
  // Writes name, url, headers, body_template and settings.
  awaitable<std::optional<consumer>> update(consumer c);
  awaitable<std::optional<consumer>> set_status(std::string project_id, std::string id,
                                                std::string status,
                                                std::optional<std::string> reason);
  // The old secret stays valid (and is signed with too) for `overlap_seconds`.
  awaitable<std::optional<consumer>> rotate_secret(std::string project_id, std::string id,
                                                   std::string new_secret, int overlap_seconds);
  awaitable<bool> remove(std::string project_id, std::string id);

 private:
  pg_pool& pool_;
};

class subscriptions_repo {
 public:
  explicit subscriptions_repo(pg_pool& pool) : pool_(pool) {}
  // nullopt when the consumer is not in the subscription's project.
  awaitable<std::optional<subscription>> create(subscription s);
  awaitable<std::optional<subscription>> find(std::string project_id, std::string id);
  awaitable<page<subscription>> list(std::string project_id,
                                     std::optional<std::string> consumer_id, page_request req);
  awaitable<bool> remove(std::string project_id, std::string id);

 private:
  pg_pool& pool_;
};

// One of each, over one pool.
struct repositories {
  explicit repositories(pg_pool& pool)
      : accounts(pool), projects(pool), keys(pool), consumers(pool), subscriptions(pool), log(pool) {}
  accounts_repo accounts;
  projects_repo projects;
  keys_repo keys;
  consumers_repo consumers;
  subscriptions_repo subscriptions;
  delivery_log_repo log;
};

}  // namespace psig::storage
