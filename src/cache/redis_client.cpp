#include "cache/redis_client.hpp"

#include <algorithm>
#include <charconv>

#include <hiredis/hiredis.h>

namespace psig::cache {
namespace {

bool to_int(std::string_view s, int& out) {
  const auto [p, e] = std::from_chars(s.data(), s.data() + s.size(), out);
  return e == std::errc{} && p == s.data() + s.size();
}

// The reply is freed on every path.
struct reply_ptr {
  redisReply* r;
  ~reply_ptr() {
    if (r != nullptr) freeReplyObject(r);
  }
};

// KEYS[1]: the bucket; ARGV: rate per second, burst, tokens wanted. Returns {allowed, wait ms}.
constexpr const char* token_bucket_lua = R"lua(
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local ahead = tonumber(ARGV[4] or '0')
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil then tokens = burst; ts = now end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
local allowed = 0
local wait = 0
local extra = 0
if tokens >= n then
  extra = math.max(0, math.min(ahead, math.floor(tokens - n)))
  tokens = tokens - n - extra
  allowed = 1
else
  wait = math.ceil((n - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {allowed, wait, extra}
)lua";

}  // namespace

std::optional<redis_endpoint> parse_redis_url(const std::string& url) {
  constexpr std::string_view scheme = "redis://";
  if (url.rfind(scheme, 0) != 0) return std::nullopt;
  std::string_view rest = std::string_view(url).substr(scheme.size());
  redis_endpoint ep;
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    auto userinfo = rest.substr(0, at);
    const auto colon = userinfo.find(':');
    ep.password = std::string(colon == std::string_view::npos ? userinfo : userinfo.substr(colon + 1));
    rest = rest.substr(at + 1);
  }
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    const auto db = rest.substr(slash + 1);
    if (!db.empty() && (!to_int(db, ep.db) || ep.db < 0)) return std::nullopt;
    rest = rest.substr(0, slash);
  }
  std::string_view host = rest;
  std::optional<std::string_view> port;
  if (!rest.empty() && rest.front() == '[') {
    // An IPv6 literal: its colons are not the port's, and hiredis wants it without brackets.
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = rest.substr(1, close - 1);
    const auto after = rest.substr(close + 1);
    if (!after.empty() && after.front() != ':') return std::nullopt;
    if (!after.empty()) port = after.substr(1);
  } else if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (port && (!to_int(*port, ep.port) || ep.port <= 0 || ep.port > 65535)) return std::nullopt;
  if (!host.empty()) ep.host = std::string(host);
  return ep;
}

redis_client::redis_client(redis_endpoint ep) : ep_(std::move(ep)) {}

redis_client::~redis_client() { drop(); }

void redis_client::drop() {
  if (ctx_ != nullptr) redisFree(ctx_);
  ctx_ = nullptr;
}

bool redis_client::ensure_connected(std::string& error) {
  if (ctx_ != nullptr && ctx_->err == 0) return true;
  drop();
  const timeval timeout{1, 0};
  ctx_ = redisConnectWithTimeout(ep_.host.c_str(), ep_.port, timeout);
  if (ctx_ == nullptr || ctx_->err != 0) {
    error = ctx_ != nullptr ? ctx_->errstr : "cannot allocate a Redis context";
    drop();
    return false;
  }
  redisSetTimeout(ctx_, timeout);
  if (!ep_.password.empty()) {
    reply_ptr r{static_cast<redisReply*>(redisCommand(ctx_, "AUTH %s", ep_.password.c_str()))};
    if (r.r == nullptr || r.r->type == REDIS_REPLY_ERROR) {
      error = "AUTH failed";
      drop();
      return false;
    }
  }
  if (ep_.db != 0) {
    reply_ptr r{static_cast<redisReply*>(redisCommand(ctx_, "SELECT %d", ep_.db))};
    if (r.r == nullptr || r.r->type == REDIS_REPLY_ERROR) {
      error = "SELECT failed";
      drop();
      return false;
    }
  }
  return true;
}

std::string redis_client::probe() {
  std::lock_guard lock(mutex_);
  std::string error;
  if (!ensure_connected(error)) return error;
  reply_ptr r{static_cast<redisReply*>(redisCommand(ctx_, "PING"))};
  if (r.r == nullptr) {
    error = ctx_->errstr;
    drop();
    return error.empty() ? "no reply" : error;
  }
  if (r.r->type == REDIS_REPLY_STATUS && std::string_view(r.r->str, r.r->len) == "PONG") return "ok";
  return "unexpected reply to PING";
}

}  // namespace psig::cache

namespace psig::cache {

std::optional<redis_client::bucket_decision> redis_client::take_tokens(const std::string& key,
                                                                        double rate, double burst,
                                                                        int n, int ahead) {
  std::lock_guard lock(mutex_);
  std::string error;
  if (!ensure_connected(error)) return std::nullopt;
  const std::string rate_s = std::to_string(rate), burst_s = std::to_string(burst),
                    n_s = std::to_string(n), ahead_s = std::to_string(ahead);
  const char* argv[] = {"EVAL", token_bucket_lua, "1", key.c_str(), rate_s.c_str(), burst_s.c_str(),
                        n_s.c_str(), ahead_s.c_str()};
  reply_ptr r{static_cast<redisReply*>(redisCommandArgv(ctx_, 8, argv, nullptr))};
  if (r.r == nullptr) {
    drop();
    return std::nullopt;
  }
  if (r.r->type != REDIS_REPLY_ARRAY || r.r->elements != 3) return std::nullopt;
  return bucket_decision{r.r->element[0]->integer == 1, static_cast<int>(r.r->element[1]->integer),
                         static_cast<int>(r.r->element[2]->integer)};
}

}  // namespace psig::cache

namespace psig::cache {
namespace {

// KEYS: zset, hash; ARGV: session, user, expiry ms. Both keys outlive their last session a
// little, so an idle project's presence leaves nothing behind.
constexpr const char* presence_touch_lua = R"lua(
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
local t = redis.call('TIME')
local ttl = math.ceil((tonumber(ARGV[3]) - t[1] * 1000) / 1000) + 60
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('EXPIRE', KEYS[2], ttl)
return 1
)lua";

// The head of the presence scripts (KEYS: zset, hash): `now` on the Redis clock, and the
// expired sessions dropped.
constexpr std::string_view presence_drop_expired_lua = R"lua(
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
if #dead > 0 then
  redis.call('ZREM', KEYS[1], unpack(dead))
  redis.call('HDEL', KEYS[2], unpack(dead))
end
)lua";

// Returns the users of the live sessions.
const std::string presence_list_lua = std::string(presence_drop_expired_lua) + R"lua(
local live = redis.call('ZRANGE', KEYS[1], 0, -1)
if #live == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(live))
)lua";

// ARGV: session, user, expiry (Unix ms), cap. Adds the session unless the live ones already
// reach the cap (0: none).
const std::string presence_admit_lua = std::string(presence_drop_expired_lua) + R"lua(
local cap = tonumber(ARGV[4])
if cap > 0 and redis.call('ZCARD', KEYS[1]) >= cap then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
local ttl = math.ceil((tonumber(ARGV[3]) - now) / 1000) + 60
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('EXPIRE', KEYS[2], ttl)
return 1
)lua";

std::string expiry_ms(std::chrono::seconds ttl) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                            (std::chrono::system_clock::now() + ttl).time_since_epoch())
                            .count());
}

std::string zset_key(const std::string& project) { return "psig:presence:" + project + ":z"; }
std::string hash_key(const std::string& project) { return "psig:presence:" + project + ":h"; }

}  // namespace

bool redis_client::presence_touch(const std::string& project, const std::string& session,
                                  const std::string& user, std::chrono::seconds ttl) {
  std::lock_guard lock(mutex_);
  std::string error;
  if (!ensure_connected(error)) return false;
  const auto expiry = expiry_ms(ttl);
  const auto z = zset_key(project), h = hash_key(project);
  const char* argv[] = {"EVAL", presence_touch_lua, "2", z.c_str(), h.c_str(), session.c_str(),
                        user.c_str(), expiry.c_str()};
  reply_ptr r{static_cast<redisReply*>(redisCommandArgv(ctx_, 8, argv, nullptr))};
  if (r.r == nullptr) {
    drop();
    return false;
  }
  return r.r->type != REDIS_REPLY_ERROR;
}

std::optional<bool> redis_client::presence_admit(const std::string& project,
                                                 const std::string& session,
                                                 const std::string& user, std::chrono::seconds ttl,
                                                 int cap) {
  std::lock_guard lock(mutex_);
  std::string error;
  if (!ensure_connected(error)) return std::nullopt;
  const auto expiry = expiry_ms(ttl), limit = std::to_string(std::max(0, cap));
  const auto z = zset_key(project), h = hash_key(project);
  const char* argv[] = {"EVAL", presence_admit_lua.c_str(), "2", z.c_str(), h.c_str(), session.c_str(),
                        user.c_str(), expiry.c_str(), limit.c_str()};
  reply_ptr r{static_cast<redisReply*>(redisCommandArgv(ctx_, 9, argv, nullptr))};
  if (r.r == nullptr) {
    drop();
    return std::nullopt;
  }
  if (r.r->type != REDIS_REPLY_INTEGER) return std::nullopt;
  return r.r->integer == 1;
}

bool redis_client::presence_remove(const std::string& project, const std::string& session) {
  std::lock_guard lock(mutex_);
  std::string error;
  if (!ensure_connected(error)) return false;
  const auto z = zset_key(project), h = hash_key(project);
  reply_ptr a{static_cast<redisReply*>(redisCommand(ctx_, "ZREM %s %s", z.c_str(), session.c_str()))};
  reply_ptr b{static_cast<redisReply*>(redisCommand(ctx_, "HDEL %s %s", h.c_str(), session.c_str()))};
  if (a.r == nullptr || b.r == nullptr) {
    drop();
    return false;
  }
  return true;
}

std::optional<std::vector<std::string>> redis_client::presence_users(const std::string& project) {
  std::lock_guard lock(mutex_);
  std::string error;
  if (!ensure_connected(error)) return std::nullopt;
  const auto z = zset_key(project), h = hash_key(project);
  const char* argv[] = {"EVAL", presence_list_lua.c_str(), "2", z.c_str(), h.c_str()};
  reply_ptr r{static_cast<redisReply*>(redisCommandArgv(ctx_, 5, argv, nullptr))};
  if (r.r == nullptr) {
    drop();
    return std::nullopt;
  }
  if (r.r->type != REDIS_REPLY_ARRAY) return std::nullopt;
  std::vector<std::string> users;
  for (std::size_t i = 0; i < r.r->elements; ++i) {
    const auto* e = r.r->element[i];
    if (e->type == REDIS_REPLY_STRING) users.emplace_back(e->str, e->len);
  }
  std::sort(users.begin(), users.end());
  users.erase(std::unique(users.begin(), users.end()), users.end());  // two tabs count once
  return users;
}

}  // namespace psig::cache
