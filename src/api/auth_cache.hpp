#pragma once
// API keys and projects as the REST handlers last read them, for a few seconds: without it every
// request made two PostgreSQL lookups before any work (the largest share of ingest's database
// time). Entries of a project are dropped the moment its keys, settings, consumers or
// subscriptions change on this node, and on every other node through psig.ctl (the routing
// cache's channel); the short lifetime bounds what a lost invalidation can leave behind.
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "psig/storage/models.hpp"

namespace psig::api {

class auth_cache {
 public:
  explicit auth_cache(std::chrono::milliseconds ttl = std::chrono::seconds(5)) : ttl_(ttl) {}

  // Active keys only: a revoked or unknown key is never cached, so it is looked up every time.
  std::optional<storage::api_key> key(const std::string& prefix);
  void put_key(const std::string& prefix, const storage::api_key& key);
  std::optional<storage::project> project(const std::string& id);
  void put_project(const storage::project& p);
  // Drops the project and every key of it.
  void forget_project(const std::string& project_id);
  void clear();

 private:
  using clock = std::chrono::steady_clock;
  template <class T>
  struct entry {
    T value;
    clock::time_point expires;
  };
  std::chrono::milliseconds ttl_;
  std::mutex mutex_;
  std::unordered_map<std::string, entry<storage::api_key>> keys_;  // by prefix
  std::unordered_map<std::string, entry<storage::project>> projects_;
};

}  // namespace psig::api
