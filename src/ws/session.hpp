#pragma once
// One WebSocket client (DESIGN §9): JSON commands in (connect, subscribe, unsubscribe, publish,
// presence, refresh, pong), replies and pushes out through a single writer with a bounded
// queue, on the socket's strand.
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <nlohmann/json.hpp>

#include "bus/jetstream.hpp"
#include "bus/realtime_channel.hpp"
#include "psig/common/asio.hpp"
#include "psig/storage/models.hpp"
#include "ws/close_codes.hpp"
#include "ws/gated_socket.hpp"

namespace psig::http {
struct upgrade_request;
}

namespace psig::ws {

class gateway;

inline constexpr std::size_t max_frame_bytes = 64 * 1024;
inline constexpr std::size_t max_queued_bytes = 1024 * 1024;
inline constexpr std::size_t max_subscriptions = 128;
inline constexpr std::chrono::seconds connect_deadline{10};

// An event on its way to the sessions: the push frame (WebSocket header included) is encoded
// once per matching pattern and shared by every session that subscribed with that pattern.
class shared_event {
 public:
  explicit shared_event(bus::ws_event e) : event_(std::move(e)) {}
  const bus::ws_event& event() const { return event_; }
  std::shared_ptr<const std::string> frame_for(const std::string& pattern) const;

 private:
  bus::ws_event event_;
  mutable std::mutex mutex_;
  // Nearly always one pattern: a short list searched in order, not a hash map.
  mutable std::vector<std::pair<std::string, std::shared_ptr<const std::string>>> frames_;
};

class session : public std::enable_shared_from_this<session> {
 public:
  session(gateway& g, std::unique_ptr<http::upgrade_request> up);
  ~session();
  void start();
  // Thread-safe: these run on the session's strand.
  void deliver(std::shared_ptr<const shared_event> ev);
  void notify(std::shared_ptr<const bus::join_notice> n);
  void close(close_code code, std::string reason);

 private:
  awaitable<void> run();
  void drain_inbox();
  void push(const shared_event& ev);
  awaitable<void> handle(const nlohmann::json& msg);
  awaitable<void> connect(const nlohmann::json& id, const nlohmann::json& args);
  awaitable<void> subscribe(const nlohmann::json& id, const nlohmann::json& args);
  void unsubscribe(const nlohmann::json& id, const nlohmann::json& args);
  awaitable<void> publish(const nlohmann::json& id, const nlohmann::json& args);
  awaitable<void> refresh(const nlohmann::json& id, const nlohmann::json& args);
  void expire_at(std::int64_t unix_seconds);
  void announce(bool join, const std::string& pattern);
  void reply_error(const nlohmann::json& id, const char* code, const std::string& message,
                   nlohmann::json details = nlohmann::json::array());
  // Queues a frame (false: the session is closing, or closes now as a slow consumer)...
  bool enqueue(std::shared_ptr<const std::string> frame);
  // ... and writes what is queued, or starts the writer when the socket cannot take it all.
  void flush();
  void send(std::shared_ptr<const std::string> frame);  // both
  std::size_t gather(const std::vector<std::shared_ptr<const std::string>>& frames,
                     std::vector<asio::const_buffer>& buffers) const;
  void send_json(const nlohmann::json& j);
  awaitable<void> write_loop();
  void arm_timer();
  void on_timer();
  void close_on_strand(close_code code, std::string reason);

  using steady = std::chrono::steady_clock;

  gateway& gateway_;
  // A bare socket, not Beast's tcp_stream: the WebSocket stream has its own timeouts, and an
  // idle session is mostly this object (DESIGN: 10,000 idle connections at <= 8 KiB each).
  // The gate lets the session write its frames to the socket itself (ws/gated_socket.hpp).
  boost::beast::websocket::stream<gated_socket> ws_;
  std::unique_ptr<http::upgrade_request> upgrade_;  // until the handshake, then released
  // One timer per session: the connect deadline, then the next ping or the token's expiry,
  // whichever comes first.
  asio::steady_timer timer_;
  steady::time_point accepted_at_{};
  steady::time_point next_ping_{};
  steady::time_point expires_ = steady::time_point::max();

  // Events handed over by the gateway's thread; one strand post drains all that arrived
  // meanwhile (one post per session per burst, not per event).
  std::mutex inbox_mutex_;
  std::vector<std::shared_ptr<const shared_event>> inbox_;
  std::vector<std::shared_ptr<const shared_event>> draining_;  // on the strand
  // Encoded frames to write, in order. A vector, not a deque: an empty libstdc++ deque still
  // holds 576 bytes.
  std::vector<std::shared_ptr<const std::string>> queue_;
  std::size_t queued_bytes_ = 0;
  std::size_t front_written_ = 0;  // bytes of queue_.front() already on the wire
  bool writing_ = false;
  std::optional<std::pair<close_code, std::string>> closing_;
  bool closed_ = false;

  bool connected_ = false;
  bool pong_seen_ = true;
  std::string id_;
  std::string user_;
  // Of the project, only what a session uses: the rest of it would be held by every idle
  // connection for nothing.
  std::string project_id_;
  nlohmann::json project_settings_;  // for the publish rate limit
  std::string consumer_id_;
  std::vector<std::string> allowed_;  // patterns the token allows to subscribe to
  std::vector<std::string> publish_allowed_;
  bool api_key_ = false;
  std::vector<std::string> subscriptions_;
  std::vector<std::string> join_leave_;  // subscriptions that asked for join/leave pushes
  // The newest stream offset this strand has been handed (matching or not): a subscribe reply
  // says it, so that every event the client has not seen comes after it.
  std::uint64_t seen_offset_ = 0;
  // While history is read for a recovering subscribe, live pushes wait here (in order).
  int recovering_ = 0;
  std::vector<std::pair<std::uint64_t, std::shared_ptr<const std::string>>> held_;
};

}  // namespace psig::ws
