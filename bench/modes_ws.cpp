// The WebSocket modes: ws (fan-out of published events to K subscribers, ProjectSignal or a
// peer) and ws-idle (the daemon's memory per idle connection).
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include "http_load.hpp"
#include "modes.hpp"
#include "payload.hpp"
#include "rest.hpp"
#include "ws_fleet.hpp"

namespace psig::bench {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// A project with one websocket consumer subscribed to bench.>, and a client token for it.
struct ws_setup {
  bench_project project;
  std::string token;
  std::unique_ptr<project_cleanup> cleanup;
};

ws_setup psig_ws_project(options& o, const std::string& name) {
  const auto api = parse_http_url(o.str("api", "http://127.0.0.1:8080"));
  const auto admin = o.str("admin-token", "");
  if (admin.empty()) options::fail("--admin-token is required");
  ws_setup s;
  s.project = make_bench_project(api, admin, name);
  const auto consumer = make_consumer(api, s.project, {{"name", "clients"}, {"kind", "websocket"}});
  subscribe(api, s.project, consumer, "bench.>");
  s.token = ws_token(api, s.project, "bench-user", "bench.>", consumer);
  s.cleanup = std::make_unique<project_cleanup>(api, admin, s.project.id);
  return s;
}

long rss_kib(long pid) {
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
  throw std::runtime_error("no VmRSS for pid " + std::to_string(pid));
}

}  // namespace

json run_ws(options& o) {
  const auto peer = o.str("peer", "psig");
  ws_fleet_config fleet;
  fleet.clients = static_cast<int>(o.num("clients", 1000));
  fleet.threads = static_cast<int>(o.num("threads", 1));
  fleet.connect_rate = static_cast<double>(o.num("connect-rate", 0));
  http_load_config pub;
  pub.rate = static_cast<double>(o.num("rate", 200));
  pub.duration = std::chrono::milliseconds(o.num("duration-ms", 10'000));
  pub.connections = static_cast<int>(o.num("pub-connections", 8));
  const auto size = static_cast<std::size_t>(o.num("size", 500));
  const auto wait = std::chrono::milliseconds(o.num("wait-ms", 20'000));
  // At most this many events published but not yet received by the slowest client. Without a
  // bound a server that accepts publishes faster than it fans them out (ProjectSignal does)
  // queues the difference per client, and past max_queued_bytes (1 MiB, ~1,500 of these
  // pushes) closes the clients as slow consumers (4008): the run then measures that policy, not
  // the fan-out rate.
  pub.window = static_cast<std::uint64_t>(o.num("window", 1000));

  ws_setup s;
  if (peer == "psig") {
    s = psig_ws_project(o, "bench-ws");
    fleet.target = parse_http_url(o.str("api", "http://127.0.0.1:8080"));
    fleet.path = "/v1/ws";
    fleet.tokens = {s.token};
    fleet.pattern = "bench.>";
    pub.target = fleet.target;
    pub.path = "/v1/projects/" + s.project.id + "/events";
    pub.token = s.project.key;
    pub.body = [size](std::uint64_t seq) {
      return R"({"type":"bench.ws","data":)" + make_payload(seq, size) + "}";
    };
  } else if (peer == "nchan" || peer == "pushpin") {
    fleet.protocol = ws_protocol::raw;
    fleet.target = parse_http_url(o.str("sub-url", ""), &fleet.path);
    pub.target = parse_http_url(o.str("pub-url", ""), &pub.path);
    pub.expect_status = static_cast<unsigned>(o.num("pub-status", 0));
    if (peer == "nchan") {
      pub.body = [size](std::uint64_t seq) { return make_payload(seq, size); };
    } else {
      const auto channel = o.str("channel", "test");
      pub.body = [size, channel](std::uint64_t seq) {
        const json item{{"channel", channel}, {"formats", {{"ws-message", {{"content", make_payload(seq, size)}}}}}};
        return json{{"items", {item}}}.dump();
      };
    }
  } else {
    options::fail("--peer: psig, nchan or pushpin");
  }
  o.check_all_used();

  ws_fleet clients(fleet);
  const auto ready = clients.open(std::chrono::milliseconds(120'000));
  std::cerr << "ws(" << peer << "): " << ready << " of " << fleet.clients << " clients ready\n";
  if (ready == 0) throw std::runtime_error("no client could subscribe");
  std::this_thread::sleep_for(500ms);  // let the last subscriptions settle on the server
  clients.reset();
  pub.done = [&clients] { return clients.slowest_received(); };
  const auto published = run_http_load(pub);
  const auto expected = published.ok * ready;
  const bool all = clients.wait_received(expected, wait);
  const auto got = clients.received();
  const double seconds = clients.receive_seconds();
  json j = clients.latency().summary_ms();
  j["peer"] = peer;
  j["clients"] = ready;
  j["published"] = published.ok;
  j["publish_errors"] = published.errors;
  j["rate"] = pub.rate;
  j["window"] = pub.window;
  j["expected"] = expected;
  j["received"] = got;
  j["lost"] = expected > got ? expected - got : 0;
  j["closed_clients"] = clients.closed();
  j["pushes_per_s"] = seconds > 0 ? static_cast<double>(got) / seconds : 0;
  std::cerr << "ws(" << peer << "): " << published.ok << " published at " << pub.rate << "/s to " << ready
            << " clients: " << got << " of " << expected << " pushes, " << j["pushes_per_s"]
            << "/s, p50 " << j["p50_ms"] << " ms, p99 " << j["p99_ms"] << " ms\n";
  j["ok"] = all && published.errors == 0 && ready == static_cast<std::size_t>(fleet.clients);
  return j;
}

json run_ws_idle(options& o) {
  const long pid = static_cast<long>(o.num("pid", 0));
  if (pid <= 0) options::fail("--pid (the daemon's process id) is required");
  ws_fleet_config fleet;
  fleet.clients = static_cast<int>(o.num("clients", 10'000));
  fleet.threads = 1;
  const auto settle = std::chrono::milliseconds(o.num("settle-ms", 3000));
  auto s = psig_ws_project(o, "bench-ws-idle");
  fleet.target = parse_http_url(o.str("api", "http://127.0.0.1:8080"));
  fleet.tokens = {s.token};
  fleet.pattern = "bench.>";
  o.check_all_used();
  std::this_thread::sleep_for(settle);
  const long before = rss_kib(pid);
  ws_fleet clients(fleet);
  const auto ready = clients.open(std::chrono::milliseconds(300'000));
  std::this_thread::sleep_for(settle);
  const long after = rss_kib(pid);
  json j;
  j["clients"] = ready;
  j["rss_before_kib"] = before;
  j["rss_after_kib"] = after;
  j["bytes_per_connection"] = ready > 0 ? static_cast<double>(after - before) * 1024.0 / static_cast<double>(ready) : 0;
  std::cerr << "ws-idle: " << ready << " idle connections; daemon RSS " << before / 1024 << " -> "
            << after / 1024 << " MiB, " << j["bytes_per_connection"] << " bytes each\n";
  j["ok"] = ready == static_cast<std::size_t>(fleet.clients);
  return j;
}

}  // namespace psig::bench
