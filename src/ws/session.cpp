#include "ws/session.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket/error.hpp>
#include <spdlog/spdlog.h>

#include "http/upgrade.hpp"
#include "psig/common/ids.hpp"
#include "psig/common/json_depth.hpp"
#include "psig/domain/pattern.hpp"
#include "ws/frame.hpp"
#include "ws/gateway.hpp"
#include "ws/session_auth.hpp"

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

}  // namespace

std::shared_ptr<const std::string> shared_event::frame_for(const std::string& pattern) const {
  std::lock_guard lock(mutex_);
  for (const auto& [p, frame] : frames_) {
    if (p == pattern) return frame;
  }
  // The envelope is stored JSON, byte-exact: spliced in, not parsed and dumped again.
  // An ephemeral event (offset 0) is in no history: it says so instead of an offset.
  const std::string tail = event_.offset == 0 ? R"(,"ephemeral":true}})"
                                              : R"(,"offset":)" + std::to_string(event_.offset) + "}}";
  auto frame = std::make_shared<const std::string>(
      text_frame(R"({"push":{"pattern":)" + dump(json(pattern)) + R"(,"event":)" + event_.envelope + tail));
  frames_.emplace_back(pattern, frame);
  return frame;
}

session::session(gateway& g, std::unique_ptr<http::upgrade_request> up)
    : gateway_(g),
      ws_(up->stream.release_socket()),
      upgrade_(std::move(up)),
      timer_(ws_.get_executor()),
      id_(common::new_id("ses")) {}

session::~session() {
  if (connected_) {
    gateway_.mark_offline(project_id_, id_);
    for (const auto& pattern : subscriptions_) announce(false, pattern);
  }
  gateway_.forget(this, project_id_, consumer_id_);
}

void session::start() {
  asio::co_spawn(ws_.get_executor(), [self = shared_from_this()] { return self->run(); },
                 asio::detached);
}

void session::deliver(std::shared_ptr<const shared_event> ev) {
  {
    std::lock_guard lock(inbox_mutex_);
    inbox_.push_back(std::move(ev));
    if (inbox_.size() > 1) return;  // a drain is posted and has not run yet
  }
  asio::post(ws_.get_executor(), [self = shared_from_this()] { self->drain_inbox(); });
}

void session::drain_inbox() {
  {
    std::lock_guard lock(inbox_mutex_);
    draining_.swap(inbox_);  // the two vectors trade their capacity back and forth
  }
  for (const auto& ev : draining_) push(*ev);
  draining_.clear();
  flush();  // every push of the burst in one write
}

void session::push(const shared_event& ev) {
  if (!connected_ || closing_) return;
  seen_offset_ = std::max(seen_offset_, ev.event().offset);
  const auto& users = ev.event().to_users;
  if (!users.empty() && std::find(users.begin(), users.end(), user_) == users.end()) return;
  // One push per event per session, under the first of its patterns that matches.
  for (const auto& pattern : subscriptions_) {
    if (domain::pattern_matches(pattern, ev.event().type)) {
      // Ephemeral events are in no history: they never wait for a recovery.
      const bool hold = recovering_ > 0 && ev.event().offset != 0;
      if (hold) held_.emplace_back(ev.event().offset, ev.frame_for(pattern));
      else enqueue(ev.frame_for(pattern));
      break;
    }
  }
}

void session::notify(std::shared_ptr<const bus::join_notice> n) {
  asio::post(ws_.get_executor(), [self = shared_from_this(), n = std::move(n)] {
    if (!self->connected_ || self->closing_ || n->session == self->id_) return;
    if (std::find(self->join_leave_.begin(), self->join_leave_.end(), n->pattern) == self->join_leave_.end()) return;
    self->send_json({{n->join ? "join" : "leave",
                      {{"pattern", n->pattern}, {"user", n->user}, {"session", n->session}}}});
  });
}

void session::announce(bool join, const std::string& pattern) {
  gateway_.announce(bus::join_notice{project_id_, consumer_id_, join, pattern, user_, id_});
}

void session::close(close_code code, std::string reason) {
  asio::post(ws_.get_executor(), [self = shared_from_this(), code, reason = std::move(reason)] {
    self->close_on_strand(code, reason);
  });
}

void session::close_on_strand(close_code code, std::string reason) {
  if (closing_ || closed_) return;
  closing_ = {code, std::move(reason)};
  // What is queued is dropped, except the rest of a frame already begun on the wire: the close
  // frame must not land inside it.
  queue_.resize(front_written_ > 0 ? 1 : 0);
  queued_bytes_ = queue_.empty() ? 0 : queue_.front()->size() - front_written_;
  timer_.cancel();
  if (!writing_) {
    writing_ = true;
    asio::co_spawn(ws_.get_executor(), [self = shared_from_this()] { return self->write_loop(); },
                   asio::detached);
  }
}

bool session::enqueue(std::shared_ptr<const std::string> frame) {
  if (closing_ || closed_) return false;
  queued_bytes_ += frame->size();
  if (queued_bytes_ > max_queued_bytes) {
    // A client that does not read must not grow our memory: it reconnects and recovers.
    gateway_.metrics().get_counter("psig_ws_slow_consumer_closes_total", "sessions closed with 4008").inc();
    close_on_strand(close_code::slow_consumer, "slow consumer");
    return false;
  }
  queue_.push_back(std::move(frame));
  return true;
}

void session::send(std::shared_ptr<const std::string> frame) {
  if (enqueue(std::move(frame))) flush();
}

std::size_t session::gather(const std::vector<std::shared_ptr<const std::string>>& frames,
                            std::vector<asio::const_buffer>& buffers) const {
  buffers.clear();
  std::size_t bytes = 0;
  for (const auto& frame : frames) {
    const std::size_t skip = buffers.empty() ? front_written_ : 0;
    buffers.emplace_back(frame->data() + skip, frame->size() - skip);
    bytes += frame->size() - skip;
  }
  return bytes;
}

void session::flush() {
  if (writing_ || closing_ || closed_ || queue_.empty()) return;
  auto& gate = ws_.next_layer();
  if (!gate.beast_writing()) {
    // Straight into the socket's buffer when it has room, as nearly always: no coroutine, no
    // completion handler (a fan-out makes this call once per session per event). Only what
    // does not fit waits for the writer below.
    thread_local std::vector<asio::const_buffer> buffers;
    const std::size_t bytes = gather(queue_, buffers);
    boost::system::error_code ec;
    std::size_t n = gate.next_layer().write_some(buffers, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      ec.clear();
      n = 0;
    }
    if (ec) {
      closed_ = true;  // the reader sees the broken socket too and ends the session
      queue_.clear();
      return;
    }
    queued_bytes_ -= std::min(queued_bytes_, n);
    if (n == bytes) {
      queue_.clear();
      front_written_ = 0;
      // The queue's room is kept for the next burst (freeing it here cost a malloc and a free
      // per session per event); only a burst's backlog is given back.
      if (queue_.capacity() > 16) queue_.shrink_to_fit();
      return;
    }
    // Drop the frames written whole; a frame cut short is finished before any other write.
    std::size_t done = 0;
    n += front_written_;
    while (n >= queue_[done]->size()) n -= queue_[done++]->size();
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(done));
    front_written_ = n;
    if (front_written_ > 0) gate.begin_session_write();
  }
  writing_ = true;
  asio::co_spawn(ws_.get_executor(), [self = shared_from_this()] { return self->write_loop(); },
                 asio::detached);
}

void session::send_json(const json& j) { send(std::make_shared<const std::string>(text_frame(dump(j)))); }

awaitable<void> session::write_loop() {
  // What flush() could not write at once: everything queued goes out in one gathered write
  // (where Beast writes one message per call), in order; a close drops what is still queued
  // except the rest of a frame begun on the wire.
  auto& gate = ws_.next_layer();
  std::vector<std::shared_ptr<const std::string>> batch;
  std::vector<asio::const_buffer> buffers;
  while (!queue_.empty() && !closed_ && (!closing_ || front_written_ > 0)) {
    batch.swap(queue_);
    const std::size_t bytes = gather(batch, buffers);
    if (front_written_ == 0) {  // else the gate is held since flush() began this frame
      if (gate.beast_writing()) co_await gate.async_wait_beast(asio::use_awaitable);
      gate.begin_session_write();
    }
    front_written_ = 0;
    auto [ec, n] = co_await asio::async_write(gate.next_layer(), buffers, use_tuple);
    gate.end_session_write();
    queued_bytes_ -= std::min(queued_bytes_, bytes);
    batch.clear();
    if (ec) {
      closed_ = true;
      break;
    }
  }
  queue_.shrink_to_fit();  // an idle session holds no queue
  if (closing_ && !closed_) {
    closed_ = true;
    websocket::close_reason reason(closing_->second);
    reason.code = static_cast<std::uint16_t>(closing_->first);  // our 4xxx codes
    auto [ec] = co_await ws_.async_close(reason, use_tuple);
    (void)ec;  // the peer may be gone already: nothing left to do either way
  }
  writing_ = false;
}

void session::reply_error(const json& id, const char* code, const std::string& message,
                          json details) {
  json error{{"code", code}, {"message", message}};
  if (!details.empty()) error["details"] = std::move(details);
  send_json({{"id", id}, {"error", std::move(error)}});
}

awaitable<void> session::run() {
  ws_.set_option(websocket::stream_base::timeout{std::chrono::seconds(10),
                                                 websocket::stream_base::none(), false});
  ws_.read_message_max(max_frame_bytes);
  if (const int bytes = gateway_.send_buffer_bytes(); bytes > 0) {
    boost::system::error_code ec;  // best effort: the kernel's default otherwise
    ws_.next_layer().next_layer().set_option(asio::socket_base::send_buffer_size(bytes), ec);
  }
  auto [aec] = co_await ws_.async_accept(upgrade_->request, use_tuple);
  upgrade_.reset();
  if (aec) co_return;
  {
    boost::system::error_code ec;  // flush() writes without blocking the I/O thread
    ws_.next_layer().next_layer().non_blocking(true, ec);
    if (ec) co_return;
  }
  gateway_.metrics().get_counter("psig_ws_connections_total", "WebSocket connections accepted").inc();
  accepted_at_ = steady::now();
  arm_timer();  // no connect within the deadline: the socket is closed

  // Read in small pieces into a buffer given back after every message: an idle session holds
  // read_chunk bytes here, not Beast's default read size (1.5 KiB).
  constexpr std::size_t read_chunk = 256;
  beast::flat_buffer buffer;
  while (!closed_) {
    auto [ec, n] = co_await ws_.async_read_some(buffer, read_chunk, use_tuple);
    if (ec) {
      break;  // an oversized message has been answered by Beast with close code 1009 already
    }
    if (!ws_.is_message_done()) continue;
    const std::string text = beast::buffers_to_string(buffer.data());
    buffer.consume(buffer.size());
    buffer.shrink_to_fit();
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
  timer_.cancel();
}

awaitable<void> session::handle(const json& msg) {
  const json id = msg.value("id", json());
  if (msg.contains("connect")) {
    if (connected_) {
      reply_error(id, "already_connected", "this session is connected");
      co_return;
    }
    co_await connect(id, msg["connect"]);
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
  } else if (msg.contains("publish")) {
    co_await publish(id, msg["publish"]);
  } else if (msg.contains("refresh")) {
    co_await refresh(id, msg["refresh"]);
  } else {
    reply_error(id, "unknown_command", "unknown command");
  }
}

awaitable<void> session::connect(const json& id, const json& args) {
  std::string token = args.is_object() ? args.value("token", "") : "";
  auto checked = co_await authenticate(gateway_, std::move(token), unix_now());
  if (auto* failed = std::get_if<auth_failure>(&checked)) {
    close_on_strand(failed->code, failed->reason);
    co_return;
  }
  auto& c = std::get<credentials>(checked);
  // The per-project cap counts live sessions on every node (Redis); Redis down: admitted.
  const int cap = gateway_.max_connections(c.project);
  const auto admitted = co_await gateway_.admit_session(c.project.id, id_, c.user, cap);
  if (admitted && !*admitted) {
    gateway_.metrics().get_counter("psig_ws_connection_limit_closes_total", "sessions refused with 4503").inc();
    close_on_strand(close_code::connection_limit, "the project's connection limit is reached");
    co_return;
  }
  project_id_ = std::move(c.project.id);
  project_settings_ = std::move(c.project.settings);
  user_ = std::move(c.user);
  consumer_id_ = std::move(c.consumer_id);
  allowed_ = std::move(c.subscribe);
  publish_allowed_ = std::move(c.publish);
  api_key_ = c.api_key;
  connected_ = true;
  seen_offset_ = gateway_.attach(project_id_, consumer_id_, shared_from_this());
  next_ping_ = steady::now() + gateway_.ping_interval();
  json reply{{"session", id_}, {"user", user_}, {"ping", gateway_.ping_interval().count()}};
  if (c.expires_at > 0) {
    reply["expires_in"] = std::max<std::int64_t>(0, c.expires_at - unix_now());
    expire_at(c.expires_at);
  } else {
    arm_timer();
  }
  send_json({{"id", id}, {"connect", reply}});
}

void session::expire_at(std::int64_t unix_seconds) {
  expires_ = steady::now() + std::chrono::seconds(std::max<std::int64_t>(0, unix_seconds - unix_now()));
  arm_timer();
}

// Re-arming cancels the pending wait (its handler sees operation_aborted and does nothing).
void session::arm_timer() {
  if (closing_ || closed_) return;
  timer_.expires_at(connected_ ? std::min(next_ping_, expires_) : accepted_at_ + connect_deadline);
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->on_timer();
  });
}

void session::on_timer() {
  if (closing_ || closed_) return;
  const auto now = steady::now();
  if (!connected_) {
    close_on_strand(close_code::bad_request, "connect first");
    return;
  }
  if (now >= expires_) {
    close_on_strand(close_code::token_expired, "token expired");
    return;
  }
  if (now >= next_ping_) {
    if (!pong_seen_) {
      close_on_strand(close_code::no_pong, "no pong");
      return;
    }
    pong_seen_ = false;
    gateway_.mark_online(project_id_, id_, user_);  // the heartbeat keeps presence alive
    static const auto ping = std::make_shared<const std::string>(text_frame("{}"));
    send(ping);
    next_ping_ = now + gateway_.ping_interval();
  }
  arm_timer();
}

// A fresh token for the same project, user and consumer extends the session (and may narrow
// what it may do); a bad one is an error reply and the old expiry still applies.
awaitable<void> session::refresh(const json& id, const json& args) {
  std::string token = args.is_object() ? args.value("token", "") : "";
  if (api_key_) {
    reply_error(id, "bad_request", "a session opened with an API key does not expire");
    co_return;
  }
  auto checked = co_await authenticate(gateway_, std::move(token), unix_now());
  if (auto* failed = std::get_if<auth_failure>(&checked)) {
    const bool expired = failed->code == close_code::token_expired;
    reply_error(id, expired ? "token_expired" : "invalid_token", "token: " + failed->reason);
    co_return;
  }
  auto& c = std::get<credentials>(checked);
  if (c.api_key || c.project.id != project_id_ || c.user != user_ || c.consumer_id != consumer_id_) {
    reply_error(id, "invalid_token", "token: must be a client token for the same project, user and consumer");
    co_return;
  }
  allowed_ = std::move(c.subscribe);
  publish_allowed_ = std::move(c.publish);
  json dropped = json::array();
  std::erase_if(subscriptions_, [&](const std::string& pattern) {
    for (const auto& a : allowed_) {
      if (domain::pattern_covers(a, pattern)) return false;
    }
    dropped.push_back(pattern);
    std::erase(join_leave_, pattern);
    announce(false, pattern);
    return true;
  });
  expire_at(c.expires_at);
  send_json({{"id", id},
             {"refresh", {{"expires_in", std::max<std::int64_t>(0, c.expires_at - unix_now())},
                          {"unsubscribed", std::move(dropped)}}}});
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
  const json join_leave = args.is_object() ? args.value("join_leave", json(false)) : json(false);
  if (!join_leave.is_boolean()) {
    reply_error(id, "validation_failed", "join_leave: must be true or false",
                {{{"field", "join_leave"}, {"message", "must be true or false"}}});
    co_return;
  }
  std::erase(join_leave_, pattern);
  if (join_leave.get<bool>()) {
    if (join_leave_.empty()) gateway_.watch_joins(project_id_, consumer_id_, shared_from_this());
    join_leave_.push_back(pattern);
  }
  if (fresh) announce(true, pattern);
  if (!recover.is_object()) {
    if (fresh) subscriptions_.push_back(pattern);
    // Every event after seen_offset_ has yet to reach this strand: the client misses none.
    send_json({{"id", id}, {"subscribe", {{"epoch", gateway_.epoch()}, {"offset", seen_offset_}}}});
    co_return;
  }
  // Recovery: pushes that arrive while history is read are held, then sent after it, so no
  // event is lost or sent twice; a gap that cannot be filled whole is "recovered": false.
  // The history covers (since, to]; every later event reaches this strand and is held.
  ++recovering_;
  if (fresh) subscriptions_.push_back(pattern);
  const std::uint64_t to = seen_offset_;
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
    auto read = gateway_.history(project_id_, consumer_id_, since.get<std::uint64_t>(), to,
                                 std::move(keep_fn));
    missed = co_await std::move(read);
  }
  --recovering_;
  // The reply's offset is `to`, not the newest offset: the held pushes after it are still to
  // come, and a client that drops before them must recover them next time.
  json reply{{"epoch", gateway_.epoch()}, {"recovered", missed.has_value()}, {"offset", to}};
  if (missed) {
    json events = json::array();
    for (const auto& e : *missed) events.push_back(json::parse(e.envelope, nullptr, false));
    reply["events"] = std::move(events);
  }
  send_json({{"id", id}, {"subscribe", reply}});
  if (recovering_ == 0) {
    auto held = std::move(held_);
    held_.clear();
    for (auto& [at, frame] : held) {
      if (at > to && !enqueue(std::move(frame))) break;  // the history carried the rest
    }
    flush();
  }
}

void session::unsubscribe(const json& id, const json& args) {
  const std::string pattern = args.is_object() ? args.value("pattern", "") : "";
  if (std::erase(subscriptions_, pattern) > 0) announce(false, pattern);
  std::erase(join_leave_, pattern);
  send_json({{"id", id}, {"unsubscribe", {{"pattern", pattern}}}});
}

}  // namespace psig::ws
