// The HTTP modes: sink (the ceiling's server), http (the ceiling), ingest, e2e and deliver.
#include <atomic>
#include <csignal>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "http_load.hpp"
#include "modes.hpp"
#include "payload.hpp"
#include "rest.hpp"
#include "sink.hpp"

namespace psig::bench {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

std::chrono::milliseconds duration_of(options& o, long long fallback_ms) {
  return std::chrono::milliseconds(o.num("duration-ms", fallback_ms));
}

json load_json(const http_load_result& r) {
  json j = r.latency.summary_ms();
  j["ok_requests"] = r.ok;
  j["errors"] = r.errors;
  j["seconds"] = r.seconds;
  j["per_s"] = r.seconds > 0 ? static_cast<double>(r.ok) / r.seconds : 0;
  return j;
}

// An event of type `type` whose data is the timed payload.
std::string event_body(const std::string& type, std::uint64_t seq, std::size_t size) {
  return R"({"type":")" + type + R"(","data":)" + make_payload(seq, size) + "}";
}

struct bench_api {
  endpoint api;
  std::string admin_token;
};

bench_api api_of(options& o) {
  bench_api b;
  b.api = parse_http_url(o.str("api", "http://127.0.0.1:8080"));
  b.admin_token = o.str("admin-token", "");
  if (b.admin_token.empty()) options::fail("--admin-token is required");
  return b;
}

// Received webhooks by seq: which arrived, how many twice, and how late.
class receipts {
 public:
  explicit receipts(std::size_t expected) : seen_(expected, 0) {}
  void on_body(std::string_view body) {
    const auto t = find_number(body, "t");
    const auto seq = find_number(body, "seq");
    const auto now = now_us();
    std::lock_guard lock(mutex_);
    ++count_;
    if (count_ == 1) first_ = clock::now();
    last_ = clock::now();
    if (t) latency_.record(now - *t);
    if (seq && static_cast<std::size_t>(*seq) < seen_.size()) {
      if (seen_[static_cast<std::size_t>(*seq)]++ > 0) ++duplicates_;
      else ++distinct_;
    }
  }
  // Distinct events received: duplicates (at-least-once redeliveries) do not count.
  std::uint64_t distinct() const {
    std::lock_guard lock(mutex_);
    return distinct_;
  }
  bool wait_for(std::uint64_t n, std::chrono::milliseconds timeout) const {
    const auto deadline = clock::now() + timeout;
    while (distinct() < n && clock::now() < deadline) std::this_thread::sleep_for(5ms);
    return distinct() >= n;
  }
  json summary(std::uint64_t sent) const {
    std::lock_guard lock(mutex_);
    std::uint64_t missing = 0;
    for (std::size_t i = 0; i < sent && i < seen_.size(); ++i) missing += seen_[i] == 0 ? 1 : 0;
    json j = latency_.summary_ms();
    j["received"] = count_;
    j["missing"] = missing;
    j["duplicates"] = duplicates_;
    j["receive_seconds"] = std::chrono::duration<double>(last_ - first_).count();
    return j;
  }
  clock::time_point first() const {
    std::lock_guard lock(mutex_);
    return first_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::uint32_t> seen_;
  std::uint64_t count_ = 0, duplicates_ = 0, distinct_ = 0;
  clock::time_point first_, last_;
  histogram latency_;
};

// A project with one webhook consumer on `receiver_url` subscribed to bench.>.
bench_project webhook_project(const bench_api& b, const std::string& name, const std::string& receiver_url) {
  auto p = make_bench_project(b.api, b.admin_token, name);
  // One receiver takes everything: the per-consumer in-flight cap (default 10) is raised to its
  // maximum, as an operator would for a receiver built for the load.
  const auto consumer = make_consumer(b.api, p, {{"name", "sink"}, {"kind", "webhook"}, {"url", receiver_url},
                                                 {"settings", {{"max_in_flight", 1000}}}});
  subscribe(b.api, p, consumer, "bench.>");
  return p;
}

// The value of the metric line that starts with `series` ("name{labels}"), 0 when absent.
// Aims `cfg` at POST …/events of `p`: every request one timed event of `type`.
void aim_at_events(http_load_config& cfg, const bench_project& p, const std::string& type, std::size_t size) {
  cfg.path = "/v1/projects/" + p.id + "/events";
  cfg.token = p.key;
  cfg.body = [type, size](std::uint64_t seq) { return event_body(type, seq, size); };
}

double metric_value(const endpoint& api, const std::string& series) {
  const auto text = http_get(api, "/metrics");
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return 0;
  return std::stod(text.substr(at + series.size() + 2));
}

// RFC 3339 (UTC, milliseconds) of a system_clock time, for deliver_at.
std::string rfc3339(std::chrono::system_clock::time_point t) {
  const auto secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03lldZ", buf, static_cast<long long>(ms));
  return out;
}

}  // namespace

json run_sink(options& o) {
  const auto listen = parse_http_url(o.str("listen", "127.0.0.1:0"));
  const int threads = static_cast<int>(o.num("threads", 1));
  o.check_all_used();
  sink s(listen.host, listen.port, threads, 202);
  std::cerr << "sink listening on " << s.url("/") << "\n";
  std::cout << "LISTENING " << s.port() << std::endl;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  int sig = 0;
  sigwait(&set, &sig);
  return {{"port", s.port()}};
}

json run_http(options& o) {
  http_load_config cfg;
  // "self": a sink in this process, on its own thread (the HTTP ceiling of scripts/bench).
  const auto url = o.str("url", "self");
  std::unique_ptr<sink> own;
  if (url == "self") {
    own = std::make_unique<sink>("127.0.0.1", 0, 1, 202);
    cfg.target = parse_http_url(own->url("/"), &cfg.path);
  } else {
    cfg.target = parse_http_url(url, &cfg.path);
  }
  cfg.connections = static_cast<int>(o.num("connections", 64));
  cfg.threads = static_cast<int>(o.num("threads", 1));
  cfg.duration = duration_of(o, 10'000);
  const auto size = static_cast<std::size_t>(o.num("size", 500));
  cfg.expect_status = static_cast<unsigned>(o.num("expect", 202));
  o.check_all_used();
  cfg.body = [size](std::uint64_t seq) { return event_body("bench.http", seq, size); };
  const auto r = run_http_load(cfg);
  std::cerr << "http: " << r.ok << " requests in " << r.seconds << " s, " << r.errors << " errors\n";
  json j = load_json(r);
  j["ok"] = r.ok > 0;
  return j;
}

json run_ingest(options& o) {
  const auto b = api_of(o);
  http_load_config cfg;
  cfg.target = b.api;
  cfg.connections = static_cast<int>(o.num("connections", 64));
  cfg.threads = static_cast<int>(o.num("threads", 1));
  cfg.duration = duration_of(o, 10'000);
  const auto size = static_cast<std::size_t>(o.num("size", 500));
  // --consumers 0: events only, no deliveries (what ingest costs without the delivery side).
  const bool with_consumer = o.num("consumers", 1) > 0;
  const auto drain_wait = std::chrono::milliseconds(o.num("drain-wait-ms", 120'000));
  o.check_all_used();
  std::atomic<std::uint64_t> received{0};
  sink receiver("127.0.0.1", 0, 1, 204, [&received](std::string_view) { ++received; });
  const auto p = with_consumer ? webhook_project(b, "bench-ingest", receiver.url())
                               : make_bench_project(b.api, b.admin_token, "bench-ingest-alone");
  const project_cleanup cleanup(b.api, b.admin_token, p.id);
  aim_at_events(cfg, p, "bench.ingest", size);
  const auto r = run_http_load(cfg);
  std::cerr << "ingest: " << r.ok << " events accepted in " << r.seconds << " s, " << r.errors << " errors\n";
  json j = load_json(r);
  j["events_per_s"] = j["per_s"];
  if (with_consumer) {
    // The deliveries still queued are delivered before the project goes, so that the next mode
    // starts with an idle pipeline, not behind this backlog (JetStream's queue is FIFO).
    const auto start = clock::now();
    while (received < r.ok && clock::now() - start < drain_wait) std::this_thread::sleep_for(20ms);
    j["backlog_drained_s"] = std::chrono::duration<double>(clock::now() - start).count();
    j["delivered"] = received.load();
  }
  j["ok"] = r.ok > 0 && r.errors == 0;
  return j;
}

json run_e2e(options& o) {
  const auto b = api_of(o);
  http_load_config cfg;
  cfg.target = b.api;
  cfg.connections = static_cast<int>(o.num("connections", 16));
  cfg.duration = duration_of(o, 10'000);
  cfg.rate = static_cast<double>(o.num("rate", 1000));
  const auto size = static_cast<std::size_t>(o.num("size", 500));
  const auto wait = std::chrono::milliseconds(o.num("wait-ms", 30'000));
  o.check_all_used();
  const auto expected = static_cast<std::size_t>(cfg.rate * static_cast<double>(cfg.duration.count()) / 1000.0) + 1000;
  receipts got(expected);
  sink receiver("127.0.0.1", 0, 1, 204, [&got](std::string_view body) { got.on_body(body); });
  const auto p = webhook_project(b, "bench-e2e", receiver.url());
  const project_cleanup cleanup(b.api, b.admin_token, p.id);
  aim_at_events(cfg, p, "bench.e2e", size);
  const auto r = run_http_load(cfg);
  got.wait_for(r.ok, wait);
  json j = got.summary(r.ok);
  j["sent"] = r.ok;
  j["post_errors"] = r.errors;
  j["rate"] = cfg.rate;
  j["ingest"] = load_json(r);
  std::cerr << "e2e: " << r.ok << " sent at " << cfg.rate << "/s, " << j["received"] << " received, "
            << j["missing"] << " missing; p50 " << j["p50_ms"] << " ms, p99 " << j["p99_ms"] << " ms\n";
  j["ok"] = r.errors == 0 && j["missing"] == 0;
  return j;
}

}  // namespace psig::bench

namespace psig::bench {

// A backlog of scheduled events (all due at one instant), then the drain: deliveries/s from the
// first webhook received to the last, and until every attempt row is committed (the
// psig_attempts_total{result="succeeded"} counter moves only after the attempt writer's commit).
json run_deliver(options& o) {
  const auto b = api_of(o);
  const auto events = static_cast<std::uint64_t>(o.num("events", 20'000));
  const auto size = static_cast<std::size_t>(o.num("size", 500));
  const auto lead = std::chrono::milliseconds(o.num("lead-ms", 3000 + static_cast<long long>(events / 5)));
  const auto wait = std::chrono::milliseconds(o.num("wait-ms", 120'000));
  o.check_all_used();
  receipts got(events);
  sink receiver("127.0.0.1", 0, 1, 204, [&got](std::string_view body) { got.on_body(body); });
  const auto p = webhook_project(b, "bench-deliver", receiver.url());
  const project_cleanup cleanup(b.api, b.admin_token, p.id);
  const std::string series = R"(psig_attempts_total{result="succeeded"})";
  const double attempts_before = metric_value(b.api, series);

  const auto due = std::chrono::system_clock::now() + lead;
  const std::string deliver_at = rfc3339(due);
  constexpr std::uint64_t per_batch = 500;
  http_load_config cfg;
  cfg.target = b.api;
  cfg.path = "/v1/projects/" + p.id + "/events/batch";
  cfg.token = p.key;
  cfg.connections = 4;
  cfg.duration = std::chrono::hours(1);
  cfg.max_requests = (events + per_batch - 1) / per_batch;
  cfg.body = [&](std::uint64_t batch) {
    std::string body = R"({"events":[)";
    for (std::uint64_t i = 0; i < per_batch; ++i) {
      const auto seq = batch * per_batch + i;
      if (seq >= events) break;
      if (i) body += ',';
      body += R"({"type":"bench.deliver","deliver_at":")" + deliver_at + R"(","data":)" + make_payload(seq, size) + "}";
    }
    return body + "]}";
  };
  const auto queued = run_http_load(cfg);
  const bool in_time = std::chrono::system_clock::now() < due;
  std::cerr << "deliver: " << events << " events queued in " << queued.seconds << " s"
            << (in_time ? "" : " (after they fell due: the drain figure is bounded by posting)") << "\n";

  const bool all = got.wait_for(events, wait);
  const auto received_at = clock::now();
  // Every attempt row committed.
  while (metric_value(b.api, series) - attempts_before < static_cast<double>(events) &&
         clock::now() - received_at < wait) {
    std::this_thread::sleep_for(20ms);
  }
  const auto logged_at = clock::now();
  const double logged = metric_value(b.api, series) - attempts_before;
  json j = got.summary(events);
  const double drain = std::chrono::duration<double>(received_at - got.first()).count();
  const double drain_logged = std::chrono::duration<double>(logged_at - got.first()).count();
  j["events"] = events;
  j["queued_in_time"] = in_time;
  j["deliveries_per_s"] = drain > 0 ? static_cast<double>(events) / drain : 0;
  j["logged_per_s"] = drain_logged > 0 ? static_cast<double>(events) / drain_logged : 0;
  j["attempts_logged"] = logged;
  std::cerr << "deliver: drained at " << j["deliveries_per_s"] << "/s, all attempts logged at "
            << j["logged_per_s"] << "/s\n";
  j["ok"] = all && queued.errors == 0 && logged >= static_cast<double>(events) && j["missing"] == 0;
  return j;
}

}  // namespace psig::bench
