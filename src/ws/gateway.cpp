#include "ws/gateway.hpp"

#include <boost/asio/post.hpp>

#include "http/upgrade.hpp"
#include "psig/common/offload.hpp"
#include "ws/session.hpp"

namespace psig::ws {
namespace {

std::string key_of(const std::string& project, const std::string& consumer) {
  return project + "/" + consumer;
}

}  // namespace

gateway::gateway(storage::repositories& repos, common::metrics_registry& metrics,
                 cache::redis_client& redis, asio::thread_pool& blocking, bus::jetstream& js)
    : repos_(repos), metrics_(metrics), redis_(redis), blocking_(blocking), js_(js) {}

constexpr std::size_t max_recovered_events = 1000;

awaitable<std::optional<std::vector<bus::ws_event>>> gateway::history(
    std::string project, std::string consumer, std::uint64_t offset,
    std::function<bool(const bus::ws_event&)> keep) {
  const std::uint64_t to = last_offset_.load();
  auto read = [this, filter = js_.names().ws_prefix + project + "." + consumer + ".>",
               offset, to, keep = std::move(keep)] {
    return js_.ws_history(filter, offset + 1, to, max_recovered_events, keep);
  };
  return common::offload(blocking_, std::move(read));
}

// A session counts as online for two ping intervals and a half without a refresh.
constexpr std::chrono::seconds presence_ttl{65};

void gateway::mark_online(const std::string& project, const std::string& session,
                          const std::string& user) {
  asio::post(blocking_, [this, project, session, user] {
    redis_.presence_touch(project, session, user, presence_ttl);
  });
}

void gateway::mark_offline(const std::string& project, const std::string& session) {
  asio::post(blocking_, [this, project, session] { redis_.presence_remove(project, session); });
}

awaitable<std::optional<std::vector<std::string>>> gateway::online_users(std::string project) {
  auto list = [this, project = std::move(project)] { return redis_.presence_users(project); };
  return common::offload(blocking_, std::move(list));
}

gateway::~gateway() = default;

void gateway::accept(std::unique_ptr<http::upgrade_request> up) {
  if (stopping_) return;  // the socket closes with `up`
  auto s = std::make_shared<session>(*this, std::move(up));
  {
    std::lock_guard lock(mutex_);
    all_.push_back(s);
  }
  s->start();
}

void gateway::publish(bus::ws_event e) {
  last_offset_ = e.offset;
  std::vector<std::shared_ptr<session>> targets;
  {
    std::lock_guard lock(mutex_);
    const auto it = by_consumer_.find(key_of(e.project_id, e.consumer_id));
    if (it == by_consumer_.end()) return;
    for (const auto& w : it->second) {
      if (auto s = w.lock()) targets.push_back(std::move(s));
    }
  }
  auto ev = std::make_shared<const shared_event>(std::move(e));
  for (auto& s : targets) s->deliver(ev);
  metrics_.get_counter("psig_ws_events_total", "realtime events received by this node's gateway").inc();
}

void gateway::set_stream_state(const bus::ws_stream_state& state) {
  std::lock_guard lock(mutex_);
  epoch_ = state.epoch;
  if (state.last_offset > last_offset_) last_offset_ = state.last_offset;
}

std::string gateway::epoch() const {
  std::lock_guard lock(mutex_);
  return epoch_;
}

void gateway::stop() {
  stopping_ = true;
  std::vector<std::shared_ptr<session>> live;
  {
    std::lock_guard lock(mutex_);
    for (const auto& w : all_) {
      if (auto s = w.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) s->close(close_code::shutdown, "server shutting down");
}

std::size_t gateway::sessions() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& w : all_) n += w.expired() ? 0 : 1;
  return n;
}

void gateway::attach(const std::string& project, const std::string& consumer,
                     std::shared_ptr<session> s) {
  std::lock_guard lock(mutex_);
  by_consumer_[key_of(project, consumer)].push_back(std::move(s));
}

void gateway::forget(const session* gone) {
  std::lock_guard lock(mutex_);
  auto prune = [gone](std::vector<std::weak_ptr<session>>& v) {
    std::erase_if(v, [gone](const std::weak_ptr<session>& w) {
      auto s = w.lock();
      return !s || s.get() == gone;
    });
  };
  prune(all_);
  for (auto it = by_consumer_.begin(); it != by_consumer_.end();) {
    prune(it->second);
    it = it->second.empty() ? by_consumer_.erase(it) : std::next(it);
  }
}

}  // namespace psig::ws
