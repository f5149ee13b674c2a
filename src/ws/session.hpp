#pragma once
// One WebSocket client (DESIGN §9): JSON commands in (connect, subscribe, unsubscribe, publish,
// presence, refresh, pong), replies and pushes out through a single writer with a bounded
// queue, on the socket's strand.
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <nlohmann/json.hpp>

#include "bus/jetstream.hpp"
#include "bus/realtime_channel.hpp"
#include "psig/common/asio.hpp"
#include "psig/storage/models.hpp"
#include "ws/close_codes.hpp"

namespace psig::http {
struct upgrade_request;
}

namespace psig::ws {

class gateway;

inline constexpr std::size_t max_frame_bytes = 64 * 1024;
inline constexpr std::size_t max_queued_bytes = 1024 * 1024;
inline constexpr std::size_t max_subscriptions = 128;
inline constexpr std::chrono::seconds connect_deadline{10};
inline constexpr std::chrono::seconds ping_interval{25};

// An event on its way to the sessions: the push frame is built once per matching pattern and
// shared by every session that subscribed with that pattern.
class shared_event {
 public:
  explicit shared_event(bus::ws_event e) : event_(std::move(e)) {}
  const bus::ws_event& event() const { return event_; }
  std::shared_ptr<const std::string> frame_for(const std::string& pattern) const;

 private:
  bus::ws_event event_;
  mutable std::mutex mutex_;
  mutable std::unordered_map<std::string, std::shared_ptr<const std::string>> frames_;
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
  awaitable<void> handle(const nlohmann::json& msg);
  awaitable<bool> connect(const nlohmann::json& id, const nlohmann::json& args);
  awaitable<void> subscribe(const nlohmann::json& id, const nlohmann::json& args);
  void unsubscribe(const nlohmann::json& id, const nlohmann::json& args);
  awaitable<void> publish(const nlohmann::json& id, const nlohmann::json& args);
  awaitable<void> refresh(const nlohmann::json& id, const nlohmann::json& args);
  void expire_at(std::int64_t unix_seconds);
  void announce(bool join, const std::string& pattern);
  void reply_error(const nlohmann::json& id, const char* code, const std::string& message,
                   nlohmann::json details = nlohmann::json::array());
  void send(std::shared_ptr<const std::string> frame);
  void send_json(const nlohmann::json& j);
  awaitable<void> write_loop();
  awaitable<void> ping_loop();
  void close_on_strand(close_code code, std::string reason);

  gateway& gateway_;
  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::beast::http::request<boost::beast::http::string_body> upgrade_;
  std::string remote_;
  asio::steady_timer ping_timer_;
  asio::steady_timer deadline_timer_;  // connect deadline, then token expiry

  std::deque<std::shared_ptr<const std::string>> queue_;
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  std::optional<std::pair<close_code, std::string>> closing_;
  bool closed_ = false;

  bool connected_ = false;
  bool pong_seen_ = true;
  std::string id_;
  std::string user_;
  storage::project project_;
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
