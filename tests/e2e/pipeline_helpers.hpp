#pragma once
// Shared by the pipeline end-to-end tests (pipeline_*_test.cpp): a daemon set up to deliver to
// loopback receivers quickly, projects driven with their own API key, and polling helpers that
// wait with deadlines instead of sleeping.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nats/nats.h>
#include <nlohmann/json.hpp>

#include "e2e/e2e_helpers.hpp"
#include "psig/domain/webhook_signature.hpp"
#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/receiver.hpp"

namespace psig::e2e::pipeline {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using std::chrono::steady_clock;
using std::chrono::system_clock;
using test::received_request;
using test::receiver;
using test::scripted_response;

// Every daemon of these tests delivers to receivers on loopback, which the SSRF guard refuses
// unless the operator allow-list names it (DESIGN §8); retries and relay polls are short so that
// each test finishes in seconds. `extra` adds or overrides variables.
inline test::daemon_options pipeline_daemon(const std::map<std::string, std::string>& extra = {}) {
  test::daemon_options o;
  o.env["PSIG_SSRF_ALLOW"] = "127.0.0.0/8,::1/128";
  o.env["PSIG_RETRY_SCHEDULE"] = "1,1,1";
  o.env["PSIG_RELAY_POLL_MS"] = "50";
  for (const auto& [k, v] : extra) o.env[k] = v;
  return o;
}

// A suite sharing one pipeline daemon. `Suite` may declare `static std::map<std::string,
// std::string> daemon_env()` to add variables; the static members are distinct per suite.
template <class Suite>
class pipeline_suite : public ::testing::Test {
 protected:
  static std::map<std::string, std::string> daemon_env() { return {}; }
  static void SetUpTestSuite() {
    daemon_ = std::make_unique<test::daemon_process>(pipeline_daemon(Suite::daemon_env()));
  }
  static void TearDownTestSuite() { daemon_.reset(); }
  void SetUp() override { ASSERT_TRUE(daemon_ && daemon_->running()) << "the daemon did not start"; }
  static test::daemon_process& daemon() { return *daemon_; }

  inline static std::unique_ptr<test::daemon_process> daemon_;
};

// Deletes a stream through the JetStream API of the NATS server at `nats_url`.
inline void delete_stream(const std::string& nats_url, const std::string& stream) {
  natsConnection* nc = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&nc, nats_url.c_str()), NATS_OK);
  natsMsg* reply = nullptr;
  const std::string subject = "$JS.API.STREAM.DELETE." + stream;
  const natsStatus s = natsConnection_Request(&reply, nc, subject.c_str(), "", 0, 5000);
  const std::string body = reply != nullptr ? std::string(natsMsg_GetData(reply), natsMsg_GetDataLength(reply)) : "";
  natsMsg_Destroy(reply);
  natsConnection_Destroy(nc);
  ASSERT_EQ(s, NATS_OK);
  ASSERT_NE(body.find("\"success\":true"), std::string::npos) << body;
}

// A receiver script answering `status` to every request.
inline std::function<test::scripted_response(const received_request&)> answer_with(int status) {
  return [status](const received_request&) {
    test::scripted_response s;
    s.status = status;
    return s;
  };
}

// A project made with the admin token, used through an API key holding every scope (as a
// service and an operator's automation would).
struct project {
  std::string id;
  std::string base;  // "/v1/projects/<id>"
  std::string key;
  std::unique_ptr<http_client> api;  // authenticated with `key`
  http_client& c() { return *api; }
};

inline project make_project(const test::daemon_process& d, const std::string& name) {
  http_client admin(d.port());
  admin.set_token(d.admin_token());
  project p;
  p.id = id_of(create_project(admin, name));
  p.base = project_path(p.id);
  p.key = create_key(admin, p.id, {"events:write", "events:read", "manage", "ws"})
              .at("key")
              .get<std::string>();
  p.api = std::make_unique<http_client>(d.port());
  p.api->set_token(p.key);
  return p;
}

struct hook {
  std::string id;
  std::string secret;
  json resource;
};

// A webhook consumer aimed at `url`; `extra` adds fields (headers, settings, ...).
inline hook make_webhook(project& p, const std::string& name, const std::string& url,
                         const json& extra = json::object()) {
  json spec = webhook_spec(name, url);
  for (const auto& [k, v] : extra.items()) spec[k] = v;
  json c = create_consumer(p.c(), p.id, spec);
  return {id_of(c), c.at("secret").get<std::string>(), c};
}

// POST …/events that must be accepted; returns the 202 body.
inline json post_event(project& p, const json& body,
                       std::vector<std::pair<std::string, std::string>> headers = {}) {
  return expect_status(p.c().request("POST", p.base + "/events", body, std::move(headers)), 202,
                       "post event " + body.dump());
}

// GETs `path` until `done(body)` holds or `timeout` passes; returns the last 200 body (null if
// there was none). The caller asserts on what it got.
inline json poll(http_client& c, const std::string& path, const std::function<bool(const json&)>& done,
                 milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  json last;
  for (;;) {
    const auto r = c.get(path);
    if (r.status == 200) {
      last = json::parse(r.body, nullptr, false);
      if (!last.is_discarded() && done(last)) return last;
    }
    if (steady_clock::now() >= deadline) return last;
    std::this_thread::sleep_for(25ms);
  }
}

inline bool status_in(const json& d, const std::set<std::string>& statuses) {
  return d.is_object() && d.contains("status") && d["status"].is_string() &&
         statuses.count(d["status"].get<std::string>()) != 0;
}

// GET …/deliveries/{d} (with attempts) once its status is one of `statuses`, or the last seen.
inline json wait_delivery(project& p, const std::string& delivery_id,
                          const std::set<std::string>& statuses, milliseconds timeout = 15s) {
  return poll(
      p.c(), p.base + "/deliveries/" + delivery_id,
      [&](const json& d) { return status_in(d, statuses); }, timeout);
}

// GET …/deliveries/{d} once at least `n` attempts are recorded, or the last seen.
inline json wait_attempts(project& p, const std::string& delivery_id, std::size_t n,
                          milliseconds timeout = 15s) {
  return poll(
      p.c(), p.base + "/deliveries/" + delivery_id,
      [&](const json& d) {
        return d.contains("attempts") && d["attempts"].is_array() && d["attempts"].size() >= n;
      },
      timeout);
}

// The deliveries GET …/events/{e} lists.
inline json deliveries_of(project& p, const std::string& event_id) {
  json e = expect_status(p.c().get(p.base + "/events/" + event_id), 200, "GET event " + event_id);
  if (!e.contains("deliveries") || !e["deliveries"].is_array()) {
    fail_setup("GET event has no deliveries list: " + e.dump());
  }
  return e["deliveries"];
}

// The id of the one delivery of an event; stops the test when there is not exactly one.
inline std::string only_delivery(project& p, const std::string& event_id) {
  const json list = deliveries_of(p, event_id);
  if (list.size() != 1) fail_setup("expected one delivery of " + event_id + ": " + list.dump());
  return list[0].at("id").get<std::string>();
}

// Waits until every delivery of the event is in one of `statuses`; returns the last list.
inline json wait_event_deliveries(project& p, const std::string& event_id,
                                  const std::set<std::string>& statuses, milliseconds timeout = 15s) {
  const json e = poll(
      p.c(), p.base + "/events/" + event_id,
      [&](const json& e) {
        if (!e.contains("deliveries") || !e["deliveries"].is_array()) return false;
        for (const auto& d : e["deliveries"]) {
          if (!status_in(d, statuses)) return false;
        }
        return true;
      },
      timeout);
  return e.is_object() ? e.value("deliveries", json::array()) : json::array();
}

// DESIGN §8: the delivered body is the stored envelope, keys in this order, rendered compactly.
// Built from GET …/events/{e}'s "payload" so the comparison with the received bytes is exact.
inline std::string envelope_bytes(const json& payload) {
  std::string out = "{\"id\":" + payload.at("id").dump();
  out += ",\"type\":" + payload.at("type").dump();
  out += ",\"timestamp\":" + payload.at("timestamp").dump();
  out += ",\"source\":" + payload.at("source").dump();
  out += ",\"subject\":" + payload.at("subject").dump();
  out += ",\"data\":" + payload.at("data").dump();
  out += "}";
  return out;
}

// The top-level keys of a JSON object in the order they appear on the wire.
inline std::vector<std::string> key_order(const std::string& body) {
  std::vector<std::string> keys;
  const auto j = nlohmann::ordered_json::parse(body, nullptr, false);
  if (!j.is_object()) return keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  return keys;
}

inline std::optional<std::int64_t> header_seconds(const received_request& r) {
  const auto ts = r.header("webhook-timestamp");
  if (!ts || ts->empty() || ts->size() > 18) return std::nullopt;
  for (const char c : *ts) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  return std::stoll(*ts);
}

// Standard Webhooks check of one received request against `secret`, as a receiver does it.
inline bool signature_ok(const received_request& r, const std::string& secret,
                         const std::optional<std::string>& signature_override = std::nullopt) {
  const auto id = r.header("webhook-id");
  const auto ts = header_seconds(r);
  const auto sig = signature_override ? signature_override : r.header("webhook-signature");
  if (!id || !ts || !sig) return false;
  return domain::verify_webhook(secret, *id, *ts, r.body, *sig,
                                static_cast<std::int64_t>(std::time(nullptr)));
}

// The webhook-id of every request a receiver got, in arrival order.
inline std::vector<std::string> webhook_ids(const receiver& rx) {
  std::vector<std::string> out;
  for (const auto& r : rx.requests()) out.push_back(r.header("webhook-id").value_or(""));
  return out;
}

inline std::multiset<std::string> id_multiset(const receiver& rx) {
  const auto ids = webhook_ids(rx);
  return {ids.begin(), ids.end()};
}

// "2024-05-01T12:00:00.123Z"
inline std::string rfc3339(system_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

inline long long ms_between(system_clock::time_point a, system_clock::time_point b) {
  return std::chrono::duration_cast<milliseconds>(b - a).count();
}

// A counter or gauge of GET /metrics (summed over its labels); 0 when absent.
inline double metric(const test::daemon_process& d, const std::string& name) {
  http_client c(d.port());
  const auto r = c.get("/metrics");
  double sum = 0;
  std::size_t at = 0;
  while ((at = r.body.find(name, at)) != std::string::npos) {
    const bool line_start = at == 0 || r.body[at - 1] == '\n';
    const auto end = r.body.find('\n', at);
    const std::string line = r.body.substr(at, end == std::string::npos ? std::string::npos : end - at);
    at += name.size();
    if (!line_start || (line.size() > name.size() && line[name.size()] != ' ' && line[name.size()] != '{')) {
      continue;
    }
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

// The status codes of a delivery's attempts, in attempt order (-1 where there was none).
inline std::vector<int> attempt_codes(const json& delivery) {
  std::vector<int> out;
  if (!delivery.is_object()) return out;
  for (const auto& a : delivery.value("attempts", json::array())) {
    out.push_back(a.contains("status_code") && a["status_code"].is_number_integer()
                      ? a["status_code"].get<int>()
                      : -1);
  }
  return out;
}

}  // namespace psig::e2e::pipeline
