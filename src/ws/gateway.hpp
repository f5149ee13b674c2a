#pragma once
// The WebSocket gateway (DESIGN §9): GET /v1/ws upgrades on the HTTP server hand their socket
// here. Every node receives the whole realtime stream (an ordered JetStream consumer) and pushes
// each event to its local sessions of that (project, consumer) whose patterns match, building
// each push frame once per (event, pattern).
#include <atomic>
#include <chrono>
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
#include "bus/realtime_channel.hpp"
#include "cache/redis_client.hpp"
#include "delivery/ingest_batcher.hpp"
#include "psig/common/asio.hpp"
#include "psig/common/metrics.hpp"
#include "psig/storage/repositories.hpp"

namespace psig::http {
struct upgrade_request;
}

namespace psig::ws {

class session;

// What the gateway borrows from the rest of the daemon, set once before the server starts.
struct gateway_links {
  delivery::ingest_batcher* ingest = nullptr;
  // The project's ingest rate limit for one client publish: true when admitted.
  std::function<awaitable<bool>(const storage::project&)> admit;
  bus::realtime_channel* channel = nullptr;
  int max_connections_per_project = 10'000;  // unless the project's max_ws_connections says
  std::chrono::seconds ping_interval{25};
  int send_buffer_bytes = 0;  // SO_SNDBUF of each session's socket; 0: the kernel decides
};

class gateway {
 public:
  gateway(storage::repositories& repos, common::metrics_registry& metrics,
          cache::redis_client& redis, asio::thread_pool& blocking, bus::jetstream& js);
  ~gateway();

  void link(gateway_links links) { links_ = std::move(links); }
  std::chrono::seconds ping_interval() const { return links_.ping_interval; }
  int send_buffer_bytes() const { return links_.send_buffer_bytes; }
  void accept(std::unique_ptr<http::upgrade_request> up);
  // From the realtime stream (durable events) or core NATS (ephemeral ones), on any thread.
  void publish(bus::ws_event e);
  void publish_ephemeral_received(bus::ws_event e);
  // A join/leave notice from any node, on any thread.
  void joined(bus::join_notice n);
  void set_stream_state(const bus::ws_stream_state& state);
  // Closes every session with 4001 (shutdown: reconnect elsewhere).
  void stop();
  std::size_t sessions() const;

  // For sessions.
  // Returns the newest offset published before the session joined: it gets every later one.
  std::uint64_t attach(const std::string& project, const std::string& consumer, std::shared_ptr<session> s);
  // The session asked for join/leave pushes: only such sessions see the notices.
  void watch_joins(const std::string& project, const std::string& consumer, std::shared_ptr<session> s);
  // From the session's destructor (project and consumer empty when it never connected).
  void forget(const session* s, const std::string& project, const std::string& consumer);
  storage::repositories& repos() { return repos_; }
  // Presence in Redis, off the I/O threads. Marking is fire and forget (an expiry cleans up
  // whatever a lost update leaves); listing answers nullopt when Redis is down.
  void mark_online(const std::string& project, const std::string& session, const std::string& user);
  void mark_offline(const std::string& project, const std::string& session);
  // Adds the session to presence unless the project is at its cap; nullopt: Redis is down.
  awaitable<std::optional<bool>> admit_session(std::string project, std::string session,
                                               std::string user, int cap);
  int max_connections(const storage::project& p) const;
  // Client publishes: the project's rate limit, the ingest path, and the ephemeral fan-out.
  awaitable<bool> admit_publish(std::string project_id, nlohmann::json settings);
  awaitable<std::vector<delivery::ingest_result>> ingest(std::vector<delivery::ingest_item> items);
  void publish_ephemeral(bus::ws_event e);
  void announce(bus::join_notice n);
  awaitable<std::optional<std::vector<std::string>>> online_users(std::string project);
  // The missed events of (project, consumer) in (offset, to] that `keep` accepts, at most
  // 1,000; nullopt when they cannot all be recovered.
  awaitable<std::optional<std::vector<bus::ws_event>>> history(
      std::string project, std::string consumer, std::uint64_t offset, std::uint64_t to,
      std::function<bool(const bus::ws_event&)> keep);
  common::metrics_registry& metrics() { return metrics_; }
  std::string epoch() const;
  bool stopping() const { return stopping_.load(); }

 private:
  storage::repositories& repos_;
  common::metrics_registry& metrics_;
  cache::redis_client& redis_;
  asio::thread_pool& blocking_;
  bus::jetstream& js_;
  gateway_links links_;
  mutable std::mutex mutex_;
  std::string epoch_;
  std::uint64_t last_offset_ = 0;  // under mutex_
  std::atomic<bool> stopping_{false};
  // Keyed by the session's address: a session going away costs O(1), not a scan of them all.
  using session_set = std::unordered_map<const session*, std::weak_ptr<session>>;
  struct group {  // the sessions of one (project, websocket consumer)
    session_set members;
    session_set join_watchers;
  };
  session_set all_;
  std::unordered_map<std::string, group> groups_;

  std::vector<std::shared_ptr<session>> sessions_of(const std::string& project,
                                                    const std::string& consumer,
                                                    session_set group::*which) const;
  std::vector<std::shared_ptr<session>> sessions_of_locked(const std::string& project,
                                                           const std::string& consumer,
                                                           session_set group::*which) const;
  void fan_out(std::vector<std::shared_ptr<session>> targets, bus::ws_event e);
};

}  // namespace psig::ws
