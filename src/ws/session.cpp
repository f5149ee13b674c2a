#include "ws/session.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket/error.hpp>
#include <spdlog/spdlog.h>

#include "http/upgrade.hpp"
#include "psig/common/crypto.hpp"
#include "psig/common/ids.hpp"
#include "psig/common/json_depth.hpp"
#include "psig/domain/client_token.hpp"
#include "psig/domain/credentials.hpp"
#include "psig/domain/pattern.hpp"
#include "ws/gateway.hpp"

namespace psig::ws {
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using nlohmann::json;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The single websocket consumer of a project, for credentials that name none.
awaitable<std::optional<std::string>> only_websocket_consumer(gateway& g, std::string project) {
  auto all = co_await g.repos().consumers.websocket_consumers(std::move(project));
  if (all.size() != 1) co_return std::nullopt;
  co_return all.front().id;
}

}  // namespace

std::shared_ptr<const std::string> shared_event::frame_for(const std::string& pattern) const {
  std::lock_guard lock(mutex_);
  auto& frame = frames_[pattern];
  if (!frame) {
    // The envelope is stored JSON, byte-exact: spliced in, not parsed and dumped again.
    frame = std::make_shared<const std::string>(
        R"({"push":{"pattern":)" + dump(json(pattern)) + R"(,"event":)" + event_.envelope +
        R"(,"offset":)" + std::to_string(event_.offset) + "}}");
  }
  return frame;
}

session::session(gateway& g, std::unique_ptr<http::upgrade_request> up)
    : gateway_(g),
      ws_(std::move(up->stream)),
      upgrade_(std::move(up->request)),
      remote_(std::move(up->remote)),
      ping_timer_(ws_.get_executor()),
      deadline_timer_(ws_.get_executor()),
      id_(common::new_id("ses")) {}

session::~session() {
  if (connected_) gateway_.mark_offline(project_id_, id_);
  gateway_.forget(this);
}

void session::start() {
  asio::co_spawn(ws_.get_executor(), [self = shared_from_this()] { return self->run(); },
                 asio::detached);
}

void session::deliver(std::shared_ptr<const shared_event> ev) {
  asio::post(ws_.get_executor(), [self = shared_from_this(), ev = std::move(ev)] {
    if (!self->connected_ || self->closing_) return;
    const auto& users = ev->event().to_users;
    if (!users.empty() && std::find(users.begin(), users.end(), self->user_) == users.end()) return;
    // One push per event per session, under the first of its patterns that matches.
    for (const auto& pattern : self->subscriptions_) {
      if (domain::pattern_matches(pattern, ev->event().type)) {
        if (self->recovering_ > 0) self->held_.emplace_back(ev->event().offset, ev->frame_for(pattern));
        else self->send(ev->frame_for(pattern));
        break;
      }
    }
  });
}

void session::close(close_code code, std::string reason) {
  asio::post(ws_.get_executor(), [self = shared_from_this(), code, reason = std::move(reason)] {
    self->close_on_strand(code, reason);
  });
}

void session::close_on_strand(close_code code, std::string reason) {
  if (closing_ || closed_) return;
  closing_ = {code, std::move(reason)};
  queue_.clear();
  queued_bytes_ = 0;
  ping_timer_.cancel();
  deadline_timer_.cancel();
  if (!writing_) {
    writing_ = true;
    asio::co_spawn(ws_.get_executor(), [self = shared_from_this()] { return self->write_loop(); },
                   asio::detached);
  }
}

void session::send(std::shared_ptr<const std::string> frame) {
  if (closing_ || closed_) return;
  queued_bytes_ += frame->size();
  if (queued_bytes_ > max_queued_bytes) {
    // A client that does not read must not grow our memory: it reconnects and recovers.
    gateway_.metrics().get_counter("psig_ws_slow_consumer_closes_total", "sessions closed with 4008").inc();
    close_on_strand(close_code::slow_consumer, "slow consumer");
    return;
  }
  queue_.push_back(std::move(frame));
  if (!writing_) {
    writing_ = true;
    asio::co_spawn(ws_.get_executor(), [self = shared_from_this()] { return self->write_loop(); },
                   asio::detached);
  }
}

void session::send_json(const json& j) { send(std::make_shared<const std::string>(dump(j))); }

awaitable<void> session::write_loop() {
  while (!queue_.empty() && !closed_) {
    auto frame = std::move(queue_.front());
    queue_.pop_front();
    ws_.text(true);
    auto [ec, n] = co_await ws_.async_write(asio::buffer(*frame), use_tuple);
    queued_bytes_ -= std::min(queued_bytes_, frame->size());
    if (ec) {
      closed_ = true;
      break;
    }
  }
  if (closing_ && !closed_) {
    closed_ = true;
    websocket::close_reason reason(closing_->second);
    reason.code = static_cast<std::uint16_t>(closing_->first);  // our 4xxx codes
    auto [ec] = co_await ws_.async_close(reason, use_tuple);
    (void)ec;  // the peer may be gone already: nothing left to do either way
  }
  writing_ = false;
}

void session::reply_error(const json& id, const char* code, const std::string& message) {
  send_json({{"id", id}, {"error", {{"code", code}, {"message", message}}}});
}

awaitable<void> session::run() {
  ws_.set_option(websocket::stream_base::timeout{std::chrono::seconds(10),
                                                 websocket::stream_base::none(), false});
  ws_.read_message_max(max_frame_bytes);
  auto [aec] = co_await ws_.async_accept(upgrade_, use_tuple);
  if (aec) co_return;
  gateway_.metrics().get_counter("psig_ws_connections_total", "WebSocket connections accepted").inc();

  // No connect within the deadline: the socket is closed (and a token's expiry reuses the timer).
  deadline_timer_.expires_after(connect_deadline);
  deadline_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec && !self->connected_) self->close_on_strand(close_code::bad_request, "connect first");
  });

  beast::flat_buffer buffer;
  while (!closed_) {
    auto [ec, n] = co_await ws_.async_read(buffer, use_tuple);
    if (ec) {
      break;  // an oversized frame has been answered by Beast with close code 1009 already
    }
    const std::string text = beast::buffers_to_string(buffer.data());
    buffer.consume(buffer.size());
    if (!common::json_depth_within(text, 32)) {
      close_on_strand(close_code::bad_request, "malformed message");
      break;
    }
    auto msg = json::parse(text, nullptr, false);
    if (msg.is_discarded() || !msg.is_object()) {
      close_on_strand(close_code::bad_request, "malformed message");
      break;
    }
    if (msg.empty()) {  // {} answers our ping
      pong_seen_ = true;
      continue;
    }
    co_await handle(msg);
  }
  // The reader is done: let the writer flush a pending close, then the session ends.
  ping_timer_.cancel();
  deadline_timer_.cancel();
}

awaitable<void> session::handle(const json& msg) {
  const json id = msg.value("id", json());
  if (msg.contains("connect")) {
    if (connected_) {
      reply_error(id, "already_connected", "this session is connected");
      co_return;
    }
    if (co_await connect(id, msg["connect"])) {
      asio::co_spawn(ws_.get_executor(), [self = shared_from_this()] { return self->ping_loop(); },
                     asio::detached);
    }
    co_return;
  }
  if (!connected_) {
    close_on_strand(close_code::bad_request, "connect first");
    co_return;
  }
  if (msg.contains("presence")) {
    auto users = co_await gateway_.online_users(project_id_);
    if (!users) {
      reply_error(id, "unavailable", "presence is unavailable (Redis)");
    } else {
      send_json({{"id", id}, {"presence", {{"users", *users}}}});
    }
  } else if (msg.contains("subscribe")) {
    co_await subscribe(id, msg["subscribe"]);
  } else if (msg.contains("unsubscribe")) {
    unsubscribe(id, msg["unsubscribe"]);
  } else {
    reply_error(id, "unknown_command", "unknown command");
  }
}

awaitable<bool> session::connect(const json& id, const json& args) {
  const std::string token = args.is_object() ? args.value("token", "") : "";
  std::int64_t expires_at = 0;
  if (token.rfind("psk_", 0) == 0) {
    // An API key with the ws scope: every pattern, its project's (only) websocket consumer.
    const auto prefix = domain::api_key_prefix(token);
    std::optional<storage::api_key> key;
    if (prefix) key = co_await gateway_.repos().keys.find_active_by_prefix(*prefix);
    if (!key || !common::constant_time_equal(domain::hash_api_key(token), key->key_hash) ||
        std::find(key->scopes.begin(), key->scopes.end(), "ws") == key->scopes.end()) {
      close_on_strand(close_code::bad_token, "invalid API key");
      co_return false;
    }
    project_id_ = key->project_id;
    user_ = "key:" + key->id;
    allowed_ = {">"};
  } else {
    const auto claimed_project = domain::token_project(token);
    std::optional<storage::project> project;
    if (claimed_project && common::is_valid_id("prj", *claimed_project)) {
      project = co_await gateway_.repos().projects.find(*claimed_project);
    }
    if (!project) {
      close_on_strand(close_code::bad_token, "invalid token");
      co_return false;
    }
    auto verified = domain::verify_client_token(token, project->realtime_secret, unix_now());
    if (auto* err = std::get_if<domain::token_error>(&verified)) {
      const bool expired = *err == domain::token_error::expired;
      close_on_strand(expired ? close_code::token_expired : close_code::bad_token,
                      expired ? "token expired" : "invalid token");
      co_return false;
    }
    auto& claims = std::get<domain::client_claims>(verified);
    project_id_ = project->id;
    user_ = claims.user;
    allowed_ = claims.patterns;
    expires_at = claims.expires_at;
    if (claims.consumer_id) consumer_id_ = *claims.consumer_id;
  }
  if (consumer_id_.empty()) {
    auto only = co_await only_websocket_consumer(gateway_, project_id_);
    if (!only) {
      close_on_strand(close_code::bad_token, "the project needs exactly one websocket consumer");
      co_return false;
    }
    consumer_id_ = *only;
  }
  connected_ = true;
  gateway_.attach(project_id_, consumer_id_, shared_from_this());
  gateway_.mark_online(project_id_, id_, user_);
  deadline_timer_.cancel();
  json reply{{"session", id_}, {"user", user_}, {"ping", ping_interval.count()}};
  if (expires_at > 0) {
    reply["expires_in"] = std::max<std::int64_t>(0, expires_at - unix_now());
    deadline_timer_.expires_after(std::chrono::seconds(std::max<std::int64_t>(0, expires_at - unix_now())));
    deadline_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->close_on_strand(close_code::token_expired, "token expired");
    });
  }
  send_json({{"id", id}, {"connect", reply}});
  co_return true;
}

awaitable<void> session::subscribe(const json& id, const json& args) {
  const std::string pattern = args.is_object() ? args.value("pattern", "") : "";
  if (auto e = domain::validate_pattern(pattern)) {
    reply_error(id, "invalid_pattern", "pattern: " + *e);
    co_return;
  }
  bool allowed = false;
  for (const auto& a : allowed_) allowed = allowed || domain::pattern_covers(a, pattern);
  if (!allowed) {
    reply_error(id, "forbidden", "pattern: outside the patterns this token allows");
    co_return;
  }
  const bool fresh =
      std::find(subscriptions_.begin(), subscriptions_.end(), pattern) == subscriptions_.end();
  if (fresh && subscriptions_.size() >= max_subscriptions) {
    reply_error(id, "too_many_subscriptions", "at most 128 subscriptions per connection");
    co_return;
  }
  const json recover = args.is_object() ? args.value("recover", json()) : json();
  if (!recover.is_object()) {
    if (fresh) subscriptions_.push_back(pattern);
    send_json({{"id", id}, {"subscribe", {{"epoch", gateway_.epoch()}, {"offset", gateway_.last_offset()}}}});
    co_return;
  }
  // Recovery: pushes that arrive while history is read are held, then sent after it, so no
  // event is lost or sent twice; a gap that cannot be filled whole is "recovered": false.
  ++recovering_;
  if (fresh) subscriptions_.push_back(pattern);
  std::optional<std::vector<bus::ws_event>> missed;
  const auto since = recover.value("offset", json());
  if (recover.value("epoch", "") == gateway_.epoch() && since.is_number_unsigned()) {
    auto keep = [pattern, user = user_](const bus::ws_event& e) {
      if (!domain::pattern_matches(pattern, e.type)) return false;
      return e.to_users.empty() ||
             std::find(e.to_users.begin(), e.to_users.end(), user) != e.to_users.end();
    };
    // Named: no class temporaries inside a co_await expression (g++ 12, see offload.hpp).
    std::function<bool(const bus::ws_event&)> keep_fn = std::move(keep);
    auto read = gateway_.history(project_id_, consumer_id_, since.get<std::uint64_t>(),
                                 std::move(keep_fn));
    missed = co_await std::move(read);
  }
  --recovering_;
  std::uint64_t offset = gateway_.last_offset();
  std::uint64_t recovered_up_to = 0;
  json reply{{"epoch", gateway_.epoch()}, {"recovered", missed.has_value()}};
  if (missed) {
    json events = json::array();
    for (const auto& e : *missed) {
      events.push_back(json::parse(e.envelope, nullptr, false));
      recovered_up_to = std::max(recovered_up_to, e.offset);
    }
    reply["events"] = std::move(events);
    offset = std::max(offset, recovered_up_to);
  }
  reply["offset"] = offset;
  send_json({{"id", id}, {"subscribe", reply}});
  if (recovering_ == 0) {
    auto held = std::move(held_);
    held_.clear();
    for (auto& [at, frame] : held) {
      if (at > recovered_up_to) send(std::move(frame));  // the history already carried the rest
    }
  }
}

void session::unsubscribe(const json& id, const json& args) {
  const std::string pattern = args.is_object() ? args.value("pattern", "") : "";
  std::erase(subscriptions_, pattern);
  send_json({{"id", id}, {"unsubscribe", {{"pattern", pattern}}}});
}

awaitable<void> session::ping_loop() {
  while (!closing_ && !closed_) {
    ping_timer_.expires_after(ping_interval);
    auto [ec] = co_await ping_timer_.async_wait(use_tuple);
    if (ec || closing_ || closed_) co_return;
    if (!pong_seen_) {
      close_on_strand(close_code::no_pong, "no pong");
      co_return;
    }
    pong_seen_ = false;
    gateway_.mark_online(project_id_, id_, user_);  // the heartbeat keeps presence alive
    send(std::make_shared<const std::string>("{}"));
  }
}

}  // namespace psig::ws
