#pragma once
// The WebSocket gateway (DESIGN §9): GET /v1/ws upgrades on the HTTP server hand their socket
// here. Every node receives the whole realtime stream (an ordered JetStream consumer) and pushes
// each event to its local sessions of that (project, consumer) whose patterns match, building
// each push frame once per (event, pattern).
#include <atomic>
#include <functional>
#include <optional>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/thread_pool.hpp>

#include "bus/jetstream.hpp"
#include "cache/redis_client.hpp"
#include "psig/common/asio.hpp"
#include "psig/common/metrics.hpp"
#include "psig/storage/repositories.hpp"

namespace psig::http {
struct upgrade_request;
}

namespace psig::ws {

class session;

class gateway {
 public:
  gateway(storage::repositories& repos, common::metrics_registry& metrics,
          cache::redis_client& redis, asio::thread_pool& blocking, bus::jetstream& js);
  ~gateway();

  void accept(std::unique_ptr<http::upgrade_request> up);
  // From the realtime stream, on any thread.
  void publish(bus::ws_event e);
  void set_stream_state(const bus::ws_stream_state& state);
  // Closes every session with 4001 (shutdown: reconnect elsewhere).
  void stop();
  std::size_t sessions() const;

  // For sessions.
  void attach(const std::string& project, const std::string& consumer, std::shared_ptr<session> s);
  void forget(const session* s);
  storage::repositories& repos() { return repos_; }
  // Presence in Redis, off the I/O threads. Marking is fire and forget (an expiry cleans up
  // whatever a lost update leaves); listing answers nullopt when Redis is down.
  void mark_online(const std::string& project, const std::string& session, const std::string& user);
  void mark_offline(const std::string& project, const std::string& session);
  awaitable<std::optional<std::vector<std::string>>> online_users(std::string project);
  // The missed events of (project, consumer) after `offset` up to now that `keep` accepts,
  // at most 1,000; nullopt when they cannot all be recovered.
  awaitable<std::optional<std::vector<bus::ws_event>>> history(
      std::string project, std::string consumer, std::uint64_t offset,
      std::function<bool(const bus::ws_event&)> keep);
  common::metrics_registry& metrics() { return metrics_; }
  std::string epoch() const;
  std::uint64_t last_offset() const { return last_offset_.load(); }
  bool stopping() const { return stopping_.load(); }

 private:
  storage::repositories& repos_;
  common::metrics_registry& metrics_;
  cache::redis_client& redis_;
  asio::thread_pool& blocking_;
  bus::jetstream& js_;
  mutable std::mutex mutex_;
  std::string epoch_;
  std::atomic<std::uint64_t> last_offset_{0};
  std::atomic<bool> stopping_{false};
  std::vector<std::weak_ptr<session>> all_;
  std::unordered_map<std::string, std::vector<std::weak_ptr<session>>> by_consumer_;
};

}  // namespace psig::ws
