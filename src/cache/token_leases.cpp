#include "cache/token_leases.hpp"

#include <iterator>

namespace psig::cache {

bool token_leases::take(const std::string& key, int n, clock::time_point now) {
  std::lock_guard lock(mutex_);
  const auto it = leases_.find(key);
  if (it == leases_.end()) return false;
  if (it->second.until <= now) {
    leases_.erase(it);
    return false;
  }
  if (it->second.tokens < n) return false;
  it->second.tokens -= n;
  return true;
}

void token_leases::add(const std::string& key, int tokens, clock::time_point now) {
  if (tokens <= 0) return;
  std::lock_guard lock(mutex_);
  // Leases of keys no longer asked for would stay forever: drop the expired ones now and then.
  if (leases_.size() >= 1024) {
    for (auto it = leases_.begin(); it != leases_.end();) {
      it = it->second.until <= now ? leases_.erase(it) : std::next(it);
    }
  }
  auto& l = leases_[key];
  if (l.until <= now) l.tokens = 0;
  l.tokens += tokens;
  l.until = now + lifetime_;
}

std::size_t token_leases::size() {
  std::lock_guard lock(mutex_);
  return leases_.size();
}

}  // namespace psig::cache
