#pragma once
// Shared by the realtime end-to-end tests: client tokens from the API, WebSocket requests that
// must be answered, waiting for a particular frame, and the daemon's own figures (metrics, RSS).
#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <optional>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/pipeline_helpers.hpp"
#include "support/ws_client.hpp"

namespace psig::e2e::pipeline {

using test::ws_client;

// The project's realtime app: a websocket consumer "app" whose stream gets the events matching
// `pattern`. Returns the consumer's id.
inline std::string make_realtime_app(project& p, const std::string& pattern) {
  const json app = create_consumer(p.c(), p.id, {{"name", "app"}, {"kind", "websocket"}});
  create_subscription(p.c(), p.id, id_of(app), pattern);
  return id_of(app);
}

// A client token for `user` from POST …/ws-tokens.
inline std::string ws_token(project& p, const std::string& user, const json& patterns,
                            const json& publish = json::array(), int ttl = 600) {
  json body{{"user", user}, {"patterns", patterns}, {"ttl", ttl}};
  if (!publish.empty()) body["publish"] = publish;
  return expect_status(p.c().post(p.base + "/ws-tokens", body), 201, "ws-token")
      .at("token")
      .get<std::string>();
}

// Sends `msg` and returns the next frame (null when the socket closed or the read timed out).
inline json ws_request(ws_client& ws, const json& msg) {
  ws.send(msg);
  auto reply = ws.receive();
  EXPECT_TRUE(reply.has_value()) << "no reply to " << msg << ", close " << ws.close_code().value_or(0);
  return reply.value_or(json());
}

// connect, then subscribe to each pattern; asserts every reply.
inline void ws_open(ws_client& ws, const std::string& token, const std::vector<std::string>& patterns = {},
                    const json& subscribe_extra = json::object()) {
  const json c = ws_request(ws, {{"id", 1}, {"connect", {{"token", token}}}});
  ASSERT_TRUE(c.contains("connect")) << c;
  int id = 2;
  for (const auto& pattern : patterns) {
    json args{{"pattern", pattern}};
    for (const auto& [k, v] : subscribe_extra.items()) args[k] = v;
    const json s = ws_request(ws, {{"id", id++}, {"subscribe", args}});
    ASSERT_TRUE(s.contains("subscribe")) << s;
  }
}

// Frames until one satisfies `want` (returned) or the socket closes / times out (nullopt);
// at most `limit` frames are read.
inline std::optional<json> ws_until(ws_client& ws, const std::function<bool(const json&)>& want,
                                    int limit = 1000) {
  for (int i = 0; i < limit; ++i) {
    auto m = ws.receive();
    if (!m) return std::nullopt;
    if (want(*m)) return m;
  }
  return std::nullopt;
}

inline std::function<bool(const json&)> push_of(const json& event_id) {
  return [event_id](const json& m) {
    return m.contains("push") && m["push"]["event"]["id"] == event_id;
  };
}

// The process's resident set, in KiB (VmRSS of /proc/<pid>/status).
inline long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      long kib = 0;
      in >> kib;
      return kib;
    }
    in.ignore(1 << 16, '\n');
  }
  return -1;
}

}  // namespace psig::e2e::pipeline
