#pragma once
// A Redis connection for readiness (and later presence and rate limits). Commands are blocking
// with short timeouts and must run on a blocking pool; a broken connection is re-made on the
// next command, so Redis restarts need nothing from the operator.
#include <chrono>
#include <mutex>
#include <vector>
#include <optional>
#include <string>

struct redisContext;

namespace psig::cache {

struct redis_endpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string password;
  int db = 0;
};

// redis://[:password@]host[:port][/db]; nullopt when malformed.
std::optional<redis_endpoint> parse_redis_url(const std::string& url);

class redis_client {
 public:
  explicit redis_client(redis_endpoint ep);
  ~redis_client();
  redis_client(const redis_client&) = delete;
  redis_client& operator=(const redis_client&) = delete;

  // "ok" when PING answers PONG, else the reason.
  std::string probe();

  struct bucket_decision {
    bool allowed = true;
    int retry_after_ms = 0;
    int ahead = 0;  // tokens taken beyond n (for a token_leases), only when allowed
  };
  // Takes n tokens from the bucket `key` (refilled at `rate` per second up to `burst`), and up
  // to `ahead` more when there are, in one Lua script on the Redis clock so every node shares
  // the bucket. nullopt when Redis cannot answer: callers fail open.
  std::optional<bucket_decision> take_tokens(const std::string& key, double rate, double burst,
                                             int n, int ahead = 0);

  // Presence (DESIGN §6): per project a ZSET of session ids scored by their expiry (Unix ms)
  // and a HASH session id -> user. A session is online until its expiry unless refreshed; a dead
  // node's sessions simply expire. False / nullopt when Redis cannot answer.
  bool presence_touch(const std::string& project, const std::string& session,
                      const std::string& user, std::chrono::seconds ttl);
  // A new session, admitted only while the project has fewer than `cap` live sessions on all
  // nodes (cap <= 0: no cap): true when added, false when the cap is reached, nullopt when Redis
  // cannot answer (callers fail open).
  std::optional<bool> presence_admit(const std::string& project, const std::string& session,
                                     const std::string& user, std::chrono::seconds ttl, int cap);
  bool presence_remove(const std::string& project, const std::string& session);
  // The distinct users with a live session, sorted.
  std::optional<std::vector<std::string>> presence_users(const std::string& project);

 private:
  bool ensure_connected(std::string& error);
  void drop();

  redis_endpoint ep_;
  std::mutex mutex_;
  redisContext* ctx_ = nullptr;
};

}  // namespace psig::cache
