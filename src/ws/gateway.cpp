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
    std::string project, std::string consumer, std::uint64_t offset, std::uint64_t to,
    std::function<bool(const bus::ws_event&)> keep) {
  auto read = [this, filter = js_.names().ws_prefix + project + "." + consumer + ".>",
               offset, to, keep = std::move(keep)] {
    return js_.ws_history(filter, offset + 1, to, max_recovered_events, keep);
  };
  return common::offload(blocking_, std::move(read));
}

// A session counts as online for two ping intervals and a half (and a little) without a refresh.
std::chrono::seconds presence_ttl(std::chrono::seconds ping) { return ping * 5 / 2 + std::chrono::seconds(3); }

void gateway::mark_online(const std::string& project, const std::string& session,
                          const std::string& user) {
  asio::post(blocking_, [this, project, session, user] {
    redis_.presence_touch(project, session, user, presence_ttl(links_.ping_interval));
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
    all_.emplace(s.get(), s);
  }
  s->start();
}

std::vector<std::shared_ptr<session>> gateway::sessions_of(const std::string& project,
                                                           const std::string& consumer,
                                                           session_set group::*which) const {
  std::lock_guard lock(mutex_);
  return sessions_of_locked(project, consumer, which);
}

std::vector<std::shared_ptr<session>> gateway::sessions_of_locked(const std::string& project,
                                                                  const std::string& consumer,
                                                                  session_set group::*which) const {
  std::vector<std::shared_ptr<session>> targets;
  const auto it = groups_.find(key_of(project, consumer));
  if (it == groups_.end()) return targets;
  const session_set& set = it->second.*which;
  targets.reserve(set.size());
  for (const auto& [ptr, w] : set) {
    if (auto s = w.lock()) targets.push_back(std::move(s));
  }
  return targets;
}

void gateway::fan_out(std::vector<std::shared_ptr<session>> targets, bus::ws_event e) {
  if (targets.empty()) return;
  auto ev = std::make_shared<const shared_event>(std::move(e));
  for (auto& s : targets) s->deliver(ev);
}

void gateway::publish(bus::ws_event e) {
  metrics_.get_counter("psig_ws_events_total", "realtime events received by this node's gateway").inc();
  std::vector<std::shared_ptr<session>> targets;
  {
    // Together with attach(): a session either is among the targets or joined after this
    // offset, never neither (a lost event) nor both (a duplicate after a recovery).
    std::lock_guard lock(mutex_);
    last_offset_ = e.offset;
    targets = sessions_of_locked(e.project_id, e.consumer_id, &group::members);
  }
  fan_out(std::move(targets), std::move(e));
}

void gateway::publish_ephemeral_received(bus::ws_event e) {
  e.offset = 0;  // in no history
  metrics_.get_counter("psig_ws_ephemeral_events_total", "ephemeral client publishes received by this node").inc();
  auto targets = sessions_of(e.project_id, e.consumer_id, &group::members);
  fan_out(std::move(targets), std::move(e));
}

void gateway::joined(bus::join_notice n) {
  auto targets = sessions_of(n.project_id, n.consumer_id, &group::join_watchers);
  if (targets.empty()) return;
  auto shared = std::make_shared<const bus::join_notice>(std::move(n));
  for (auto& s : targets) s->notify(shared);
}

void gateway::publish_ephemeral(bus::ws_event e) {
  if (links_.channel == nullptr) return;
  asio::post(blocking_, [this, e = std::move(e)] { links_.channel->publish_ephemeral(e); });
}

void gateway::announce(bus::join_notice n) {
  if (links_.channel == nullptr) return;
  asio::post(blocking_, [this, n = std::move(n)] { links_.channel->publish_join(n); });
}

awaitable<std::optional<bool>> gateway::admit_session(std::string project, std::string session,
                                                      std::string user, int cap) {
  auto admit = [this, project = std::move(project), session = std::move(session),
                user = std::move(user), cap] {
    return redis_.presence_admit(project, session, user, presence_ttl(links_.ping_interval), cap);
  };
  return common::offload(blocking_, std::move(admit));
}

int gateway::max_connections(const storage::project& p) const {
  const auto it = p.settings.find("max_ws_connections");
  if (it != p.settings.end() && it->is_number_integer() && it->get<long long>() > 0) {
    return static_cast<int>(std::min<long long>(it->get<long long>(), 10'000'000));
  }
  return links_.max_connections_per_project;
}

awaitable<bool> gateway::admit_publish(std::string project_id, nlohmann::json settings) {
  if (!links_.admit) co_return true;
  // The rate limit reads only the project's id and settings.
  storage::project p;
  p.id = std::move(project_id);
  p.settings = std::move(settings);
  auto admit = links_.admit(p);
  co_return co_await std::move(admit);
}

awaitable<std::vector<delivery::ingest_result>> gateway::ingest(std::vector<delivery::ingest_item> items) {
  return links_.ingest->submit(std::move(items));
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
    for (const auto& [ptr, w] : all_) {
      if (auto s = w.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) s->close(close_code::shutdown, "server shutting down");
}

std::size_t gateway::sessions() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& [ptr, w] : all_) n += w.expired() ? 0 : 1;
  return n;
}

std::uint64_t gateway::attach(const std::string& project, const std::string& consumer,
                              std::shared_ptr<session> s) {
  std::lock_guard lock(mutex_);
  groups_[key_of(project, consumer)].members.emplace(s.get(), s);
  return last_offset_;
}

void gateway::watch_joins(const std::string& project, const std::string& consumer,
                          std::shared_ptr<session> s) {
  std::lock_guard lock(mutex_);
  groups_[key_of(project, consumer)].join_watchers.emplace(s.get(), s);
}

void gateway::forget(const session* gone, const std::string& project, const std::string& consumer) {
  std::lock_guard lock(mutex_);
  all_.erase(gone);
  const auto it = groups_.find(key_of(project, consumer));
  if (it == groups_.end()) return;
  it->second.members.erase(gone);
  it->second.join_watchers.erase(gone);
  if (it->second.members.empty()) groups_.erase(it);
}

}  // namespace psig::ws
