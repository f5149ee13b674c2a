#include "delivery/routing_cache.hpp"

namespace psig::delivery {

void project_routes::add(std::string_view pattern, route_target target) {
  trie_.insert(pattern, static_cast<std::uint32_t>(targets_.size()));
  targets_.push_back(std::move(target));
}

std::shared_ptr<const project_routes> routing_cache::find(const std::string& project_id,
                                                          ticket& t) const {
  std::lock_guard lock(mutex_);
  t.generation = generation_;
  const auto it = routes_.find(project_id);
  return it == routes_.end() ? nullptr : it->second;
}

void routing_cache::store(const std::string& project_id,
                          std::shared_ptr<const project_routes> routes, ticket t) {
  std::lock_guard lock(mutex_);
  if (t.generation != generation_) return;  // invalidated while loading: the next event reloads
  routes_[project_id] = std::move(routes);
}

void routing_cache::invalidate(const std::string& project_id) {
  std::lock_guard lock(mutex_);
  ++generation_;
  routes_.erase(project_id);
}

void routing_cache::clear() {
  std::lock_guard lock(mutex_);
  ++generation_;
  routes_.clear();
}

}  // namespace psig::delivery
