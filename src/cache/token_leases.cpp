#include "cache/token_leases.hpp"

#include <iterator>

namespace psig::cache {

token_leases::taken token_leases::take(const std::string& key, int n, clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto& l = leases_[key];
  if (l.until > now && l.tokens >= n) {
    l.tokens -= n;
    return {true, false};
  }
  // One renewal at a time; one that never reported back (its caller threw) stops counting.
  if (l.renewing_since != clock::time_point{} && now - l.renewing_since < std::chrono::seconds(1)) {
    return {false, false};
  }
  l.renewing_since = now;
  return {false, true};
}

void token_leases::add(const std::string& key, int tokens, clock::time_point now) {
  std::lock_guard lock(mutex_);
  // Leases of keys no longer asked for would stay forever: drop the expired ones now and then.
  if (leases_.size() >= 1024) {
    for (auto it = leases_.begin(); it != leases_.end();) {
      const bool idle = it->second.until <= now && it->second.renewing_since == clock::time_point{};
      it = idle && it->first != key ? leases_.erase(it) : std::next(it);
    }
  }
  auto& l = leases_[key];
  l.renewing_since = {};
  if (tokens <= 0) return;
  if (l.until <= now) l.tokens = 0;
  l.tokens += tokens;
  l.until = now + lifetime_;
}

std::size_t token_leases::size() {
  std::lock_guard lock(mutex_);
  return leases_.size();
}

}  // namespace psig::cache
