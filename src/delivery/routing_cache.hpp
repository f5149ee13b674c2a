#pragma once
// Which consumers an event goes to: per project, a trie of subscription patterns plus their
// payload filters (DESIGN §2), loaded from PostgreSQL on first use, kept in memory, and dropped
// whenever a consumer or subscription of the project changes (here or, via psig.ctl, on
// another node). Matching cost grows with the type's tokens, not with the subscriptions.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "psig/domain/filter.hpp"
#include "psig/domain/pattern.hpp"

namespace psig::delivery {

struct route_target {
  std::string subscription_id;
  std::string consumer_id;
  std::string consumer_kind;  // webhook | push | email | websocket
  std::shared_ptr<const domain::filter> filter;  // null: no filter
};

class project_routes {
 public:
  void add(std::string_view pattern, route_target target);
  // The distinct consumers whose subscriptions match `type` and whose filter (if any) accepts
  // `envelope`; `envelope` is built only when a matching subscription has a filter.
  template <class MakeEnvelope>
  std::vector<const route_target*> match(std::string_view type, MakeEnvelope make_envelope) const;
  std::size_t size() const { return targets_.size(); }

 private:
  domain::pattern_trie<std::uint32_t> trie_;
  std::vector<route_target> targets_;
};

class routing_cache {
 public:
  struct ticket {
    std::uint64_t generation;
  };
  // Cached routes or null; when null, load them and store() with the ticket taken before the
  // load, so a change that lands during the load is not overwritten by stale data.
  std::shared_ptr<const project_routes> find(const std::string& project_id, ticket& t) const;
  void store(const std::string& project_id, std::shared_ptr<const project_routes> routes, ticket t);
  void invalidate(const std::string& project_id);
  void clear();

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<const project_routes>> routes_;
  std::uint64_t generation_ = 0;  // bumped on every invalidation, for every project: simple, rare
};

template <class MakeEnvelope>
std::vector<const route_target*> project_routes::match(std::string_view type,
                                                       MakeEnvelope make_envelope) const {
  std::vector<const route_target*> out;
  std::optional<nlohmann::json> envelope;
  trie_.match(type, [&](std::uint32_t index) {
    const route_target& t = targets_[index];
    for (const auto* seen : out) {
      if (seen->consumer_id == t.consumer_id) return;  // one delivery per consumer
    }
    if (t.filter) {
      if (!envelope) envelope = make_envelope();
      if (!t.filter->matches(*envelope)) return;
    }
    out.push_back(&t);
  });
  return out;
}

}  // namespace psig::delivery
