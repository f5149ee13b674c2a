#pragma once
// Tokens this node has taken ahead from a shared Redis token bucket: without them every ingest
// request made a Redis round trip (and two thread hops) before any work. A lease is small (a
// hundredth of a second's rate) and short-lived, so the cluster-wide limit still holds: a node
// never admits more than it took from the bucket, and a lease it does not use is simply lost
// after `lifetime` (other nodes may see a 429 up to that many tokens early).
#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace psig::cache {

class token_leases {
 public:
  using clock = std::chrono::steady_clock;
  explicit token_leases(std::chrono::milliseconds lifetime = std::chrono::milliseconds(100))
      : lifetime_(lifetime) {}

  struct taken {
    bool ok = false;  // n tokens came out of the lease
    // Otherwise: true for the one caller that renews the lease (it asks Redis for tokens ahead
    // and must call add()); the others ask Redis for their own n only, so that concurrent
    // misses never each take a lease and empty the bucket for nothing.
    bool renew = false;
  };
  taken take(const std::string& key, int n, clock::time_point now = clock::now());
  // From the renewing caller, with the tokens it took ahead (0 when Redis refused or failed);
  // the lease lasts `lifetime` from now.
  void add(const std::string& key, int tokens, clock::time_point now = clock::now());
  // How many tokens a Redis call takes ahead for a bucket refilled at `rate` per second.
  static int ahead_for(double rate) { return static_cast<int>(rate / 100); }
  std::size_t size();

 private:
  struct lease {
    int tokens = 0;
    clock::time_point until;
    clock::time_point renewing_since;  // a renewal is in flight when set (a lost one expires)
  };
  std::chrono::milliseconds lifetime_;
  std::mutex mutex_;
  std::unordered_map<std::string, lease> leases_;
};

}  // namespace psig::cache
