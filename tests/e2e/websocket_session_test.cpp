// The life of a WebSocket session (DESIGN §9): token refresh and expiry, join/leave pushes, the
// per-project connection cap, pings and the connect deadline, and a client that stops reading
// (4008, bounded memory).
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "e2e/realtime_helpers.hpp"

namespace psig::e2e::pipeline {
namespace {

class WebsocketSession : public pipeline_suite<WebsocketSession> {
 protected:
  void SetUp() override {
    pipeline_suite::SetUp();
    p_ = make_project(daemon(), "sessions");
    make_realtime_app(p_, "chat.>");
  }
  std::uint16_t port() { return daemon().port(); }
  project p_;
};

TEST_F(WebsocketSession, RefreshExtendsTheSessionAndNarrowsIt) {
  ws_client ws(port());
  const json c = ws_request(ws, {{"id", 1}, {"connect", {{"token", ws_token(p_, "u1", {"chat.>"}, {}, 2)}}}});
  ASSERT_TRUE(c.contains("connect")) << c;
  EXPECT_LE(c["connect"]["expires_in"].get<int>(), 2);
  ASSERT_TRUE(ws_request(ws, {{"id", 2}, {"subscribe", {{"pattern", "chat.room.*"}}}}).contains("subscribe"));
  ASSERT_TRUE(ws_request(ws, {{"id", 3}, {"subscribe", {{"pattern", "chat.message.*"}}}}).contains("subscribe"));

  const json bad = ws_request(ws, {{"id", 4}, {"refresh", {{"token", "garbage"}}}});
  EXPECT_EQ(bad["error"]["code"], "invalid_token") << bad;
  const json other_user = ws_request(ws, {{"id", 5}, {"refresh", {{"token", ws_token(p_, "u2", {"chat.>"})}}}});
  EXPECT_EQ(other_user["error"]["code"], "invalid_token") << "a refresh cannot change the user: " << other_user;

  const json r = ws_request(ws, {{"id", 6}, {"refresh", {{"token", ws_token(p_, "u1", {"chat.message.*"})}}}});
  ASSERT_TRUE(r.contains("refresh")) << r;
  EXPECT_GT(r["refresh"]["expires_in"].get<int>(), 500);
  EXPECT_EQ(r["refresh"]["unsubscribed"], json::array({"chat.room.*"})) << "no longer allowed: dropped";

  std::this_thread::sleep_for(3s);  // past the first token's expiry
  const json room = post_event(p_, {{"type", "chat.room.created"}, {"data", 1}});
  const json message = post_event(p_, {{"type", "chat.message.created"}, {"data", 2}});
  auto push = ws.receive();
  ASSERT_TRUE(push.has_value()) << "still open after the old expiry; close " << ws.close_code().value_or(0);
  EXPECT_EQ((*push)["push"]["event"]["id"], message["id"]) << "the room event is no longer pushed";
}

TEST_F(WebsocketSession, ExpiredTokenClosesWith4005) {
  ws_client ws(port());
  ASSERT_TRUE(ws_request(ws, {{"id", 1}, {"connect", {{"token", ws_token(p_, "u1", {"chat.>"}, {}, 1)}}}})
                  .contains("connect"));
  EXPECT_FALSE(ws_until(ws, [](const json&) { return false; }, 10).has_value());
  EXPECT_EQ(ws.close_code(), 4005);
}

TEST_F(WebsocketSession, JoinAndLeavePushesWhenAsked) {
  ws_client watcher(port()), quiet(port());
  ws_open(watcher, ws_token(p_, "ann", {"chat.>"}), {"chat.>"}, {{"join_leave", true}});
  ws_open(quiet, ws_token(p_, "cid", {"chat.>"}), {"chat.>"});  // does not ask for them
  std::string bob_session;
  {
    ws_client bob(port());
    const json c = ws_request(bob, {{"id", 1}, {"connect", {{"token", ws_token(p_, "bob", {"chat.>"})}}}});
    bob_session = c["connect"]["session"].get<std::string>();
    ASSERT_TRUE(ws_request(bob, {{"id", 2}, {"subscribe", {{"pattern", "chat.>"}}}}).contains("subscribe"));
    auto join = ws_until(watcher, [](const json& m) { return m.contains("join") && m["join"]["user"] == "bob"; });
    ASSERT_TRUE(join.has_value()) << "ann sees bob join chat.>";
    EXPECT_EQ((*join)["join"]["pattern"], "chat.>");
    EXPECT_EQ((*join)["join"]["session"], bob_session);
  }  // bob goes away
  auto leave = ws_until(watcher, [](const json& m) { return m.contains("leave"); });
  ASSERT_TRUE(leave.has_value()) << "ann sees bob leave";
  EXPECT_EQ((*leave)["leave"]["user"], "bob");
  EXPECT_EQ((*leave)["leave"]["session"], bob_session);
  // The session that did not ask got neither: its next frame is the event posted now.
  const json e = post_event(p_, {{"type", "chat.message.created"}, {"data", 1}});
  auto next = quiet.receive();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ((*next)["push"]["event"]["id"], e["id"]) << *next;
}

TEST_F(WebsocketSession, ConnectionCapClosesWith4503) {
  http_client admin(daemon().port());
  admin.set_token(daemon().admin_token());
  expect_status(admin.patch(p_.base, {{"settings", {{"max_ws_connections", 2}}}}), 200, "cap");
  const std::string t = ws_token(p_, "u1", {"chat.>"});
  auto first = std::make_unique<ws_client>(port());
  ws_client second(port());
  ws_open(*first, t);
  ws_open(second, t);
  {
    ws_client third(port());
    third.send({{"id", 1}, {"connect", {{"token", t}}}});
    EXPECT_FALSE(third.receive().has_value());
    EXPECT_EQ(third.close_code(), 4503);
  }
  first.reset();  // a place frees up once the session is gone from presence
  bool admitted = false;
  for (int i = 0; i < 50 && !admitted; ++i) {
    ws_client again(port());
    again.send({{"id", 1}, {"connect", {{"token", t}}}});
    auto r = again.receive();
    admitted = r.has_value() && r->contains("connect");
    if (!admitted) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(admitted);
  EXPECT_TRUE(daemon().running());
}

// The session's one timer: the connect deadline, then pings (every second here) and the
// token's expiry, whichever comes first.
// The session writes its queued pushes to the socket itself, in one gathered write; Beast
// writes the pongs to a client's WebSocket pings. A pong must wait for a push half written to a
// client that is not reading, not land inside it. Small socket buffers on both sides make the
// session's write block (the kernel would otherwise take it all).
class WebsocketGatheredWrite : public pipeline_suite<WebsocketGatheredWrite> {
 public:
  static std::map<std::string, std::string> daemon_env() { return {{"PSIG_WS_SEND_BUFFER_BYTES", "16384"}}; }
};

TEST_F(WebsocketGatheredWrite, ClientPingsDuringABlockedWriteGetPongsAndNoPushIsCorrupted) {
  project p = make_project(daemon(), "gathered");
  make_realtime_app(p, "chat.>");
  ws_client ws(daemon().port(), std::chrono::seconds(10), 4096);
  ws_open(ws, ws_token(p, "u1", {"chat.>"}), {"chat.>"});
  constexpr int events = 12;  // 12 x 60 KB: more than the sockets hold, less than the 1 MiB queue
  const std::string blob(60 * 1024, 'p');
  const double before = metric(daemon(), "psig_ws_events_total");
  for (int i = 0; i < events; ++i) post_event(p, {{"type", "chat.bulk"}, {"data", {{"seq", i}, {"blob", blob}}}});
  const auto deadline = steady_clock::now() + 20s;
  while (metric(daemon(), "psig_ws_events_total") < before + events && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  std::this_thread::sleep_for(200ms);  // the session is now blocked in its write
  constexpr int pings = 5;
  for (int i = 0; i < pings; ++i) ws.ping();

  for (int i = 0; i < events; ++i) {
    auto push = ws.receive();
    ASSERT_TRUE(push.has_value()) << "push " << i << ": close code " << ws.close_code().value_or(0);
    ASSERT_FALSE(push->is_discarded()) << "push " << i << " is not JSON";
    ASSERT_EQ((*push)["push"]["event"]["data"]["seq"], i);
    EXPECT_EQ((*push)["push"]["event"]["data"]["blob"].get<std::string>().size(), blob.size());
  }
  // The pongs came after the pushes they waited for; a reply after them proves the stream whole.
  const json reply = ws_request(ws, {{"id", 9}, {"dance", {}}});
  EXPECT_EQ(reply["error"]["code"], "unknown_command") << reply;
  EXPECT_EQ(ws.pongs(), pings);
}

class WebsocketPing : public pipeline_suite<WebsocketPing> {
 public:
  static std::map<std::string, std::string> daemon_env() { return {{"PSIG_WS_PING_SECONDS", "1"}}; }
};

TEST_F(WebsocketPing, AnsweredPingsKeepTheSessionAndAMissedOneCloses4012) {
  project p = make_project(daemon(), "ping");
  make_realtime_app(p, "chat.>");
  ws_client answers(daemon().port()), silent(daemon().port());
  const json c = ws_request(answers, {{"id", 1}, {"connect", {{"token", ws_token(p, "u1", {"chat.>"})}}}});
  ASSERT_TRUE(c.contains("connect")) << c;
  EXPECT_EQ(c["connect"]["ping"], 1);
  ASSERT_TRUE(ws_request(silent, {{"id", 1}, {"connect", {{"token", ws_token(p, "u2", {"chat.>"})}}}})
                  .contains("connect"));

  const auto start = std::chrono::steady_clock::now();
  int pings = 0;
  while (std::chrono::steady_clock::now() - start < 4s) {
    auto m = answers.receive();
    ASSERT_TRUE(m.has_value()) << "closed " << answers.close_code().value_or(0) << " after " << pings << " pings";
    if (m->empty()) {
      ++pings;
      answers.send(json::object());
    }
  }
  EXPECT_GE(pings, 3);
  ASSERT_TRUE(ws_request(answers, {{"id", 2}, {"subscribe", {{"pattern", "chat.>"}}}}).contains("subscribe"));

  auto first = silent.receive();  // the first ping, left unanswered
  ASSERT_TRUE(first.has_value() && first->empty()) << first.value_or(json());
  EXPECT_FALSE(ws_until(silent, [](const json&) { return false; }, 10).has_value());
  EXPECT_EQ(silent.close_code(), 4012);
}

TEST_F(WebsocketPing, NoConnectWithinTenSecondsCloses) {
  ws_client idle(daemon().port(), 15s);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(idle.receive().has_value());
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(idle.close_code(), 4502);
  EXPECT_GE(waited, 9s);
  EXPECT_LT(waited, 13s);
}

// A reader that never reads: its queue passes 1 MiB, it is closed with 4008, and the daemon's
// memory does not grow with what was published meanwhile.
class WebsocketSlowConsumer : public pipeline_suite<WebsocketSlowConsumer> {
 public:
  static std::map<std::string, std::string> daemon_env() {
    // The AddressSanitizer quarantine would keep every freed buffer resident and hide the bound.
    std::string asan = std::getenv("ASAN_OPTIONS") ? std::getenv("ASAN_OPTIONS") : "";
    return {{"ASAN_OPTIONS", asan + (asan.empty() ? "" : ":") + "quarantine_size_mb=1"}};
  }
};

TEST_F(WebsocketSlowConsumer, IsClosedWith4008AndMemoryStaysBounded) {
  project p = make_project(daemon(), "slow");
  make_realtime_app(p, "bulk.>");
  const std::string t = ws_token(p, "u1", {"bulk.>"});
  ws_client slow(daemon().port()), fast(daemon().port());
  ws_open(slow, t, {"bulk.>"});
  ws_open(fast, t, {"bulk.>"});

  const std::string blob(200 * 1024, 'x');
  constexpr int events = 150;  // 30 MB of pushes per session
  // Warm up every buffer on the way first, then measure.
  for (int i = 0; i < 5; ++i) post_event(p, {{"type", "bulk.warmup"}, {"data", blob}});
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(fast.receive().has_value());
  const long rss_before = rss_kib(daemon().pid());

  std::atomic<int> fast_got{0};
  std::thread reader([&] {
    while (fast_got < events) {
      auto m = fast.receive_text();
      if (!m) return;
      if (m->rfind(R"({"push")", 0) == 0) ++fast_got;
    }
  });
  std::atomic<bool> drain{false};
  std::optional<int> slow_close;
  std::thread slow_reader([&] {
    while (!drain) std::this_thread::sleep_for(10ms);
    while (slow.receive_text().has_value()) {
    }
    slow_close = slow.close_code();
  });
  long rss_peak = rss_before;
  for (int i = 0; i < events; ++i) {
    // The reading client keeps up (it is not the slow one): a few frames in flight at most.
    const auto keep_up = steady_clock::now() + 20s;
    while (i - fast_got > 3 && steady_clock::now() < keep_up) std::this_thread::sleep_for(1ms);
    post_event(p, {{"type", "bulk.item"}, {"data", blob}});
    rss_peak = std::max(rss_peak, rss_kib(daemon().pid()));
    // Let the slow client see its close frame within the server's 10 s close handshake.
    if (i % 10 == 0 && !drain && metric(daemon(), "psig_ws_slow_consumer_closes_total") >= 1) drain = true;
  }
  const auto deadline = steady_clock::now() + 60s;
  while (fast_got < events && steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  drain = true;
  reader.join();
  slow_reader.join();

  EXPECT_EQ(fast_got.load(), events) << "a reading client gets everything";
  EXPECT_EQ(slow_close, 4008) << "the non-reading client is closed as a slow consumer";
  EXPECT_GE(metric(daemon(), "psig_ws_slow_consumer_closes_total"), 1);
  // 30 MB went to a client that read nothing; the daemon kept at most its 1 MiB queue of it
  // (and the kernel a few MB in socket buffers). Without the cap the growth is the whole volume.
  const long growth_kib = rss_peak - rss_before;
  std::cout << "[ slow consumer ] daemon RSS " << rss_before / 1024 << " MiB -> peak "
            << rss_peak / 1024 << " MiB while 30 MB was published\n";
  EXPECT_LT(growth_kib, 16 * 1024) << "memory grew with the unread pushes";
  EXPECT_TRUE(daemon().running());
}

}  // namespace
}  // namespace psig::e2e::pipeline
