#include "api/auth_cache.hpp"

namespace psig::api {
namespace {

// The fresh value of `id` in `map`; a stale entry is dropped.
template <class Map>
auto fresh(Map& map, const std::string& id, std::chrono::steady_clock::time_point now)
    -> std::optional<decltype(map.begin()->second.value)> {
  const auto it = map.find(id);
  if (it == map.end()) return std::nullopt;
  if (it->second.expires <= now) {
    map.erase(it);
    return std::nullopt;
  }
  return it->second.value;
}

}  // namespace

std::optional<storage::api_key> auth_cache::key(const std::string& prefix) {
  std::lock_guard lock(mutex_);
  return fresh(keys_, prefix, clock::now());
}

void auth_cache::put_key(const std::string& prefix, const storage::api_key& key) {
  std::lock_guard lock(mutex_);
  keys_.insert_or_assign(prefix, entry<storage::api_key>{key, clock::now() + ttl_});
}

std::optional<storage::project> auth_cache::project(const std::string& id) {
  std::lock_guard lock(mutex_);
  return fresh(projects_, id, clock::now());
}

void auth_cache::put_project(const storage::project& p) {
  std::lock_guard lock(mutex_);
  projects_.insert_or_assign(p.id, entry<storage::project>{p, clock::now() + ttl_});
}

void auth_cache::forget_project(const std::string& project_id) {
  std::lock_guard lock(mutex_);
  projects_.erase(project_id);
  std::erase_if(keys_, [&](const auto& kv) { return kv.second.value.project_id == project_id; });
}

void auth_cache::clear() {
  std::lock_guard lock(mutex_);
  keys_.clear();
  projects_.clear();
}

}  // namespace psig::api
