#include "app/application.hpp"

#include <thread>
#include <vector>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <pqxx/nontransaction>
#include <spdlog/spdlog.h>

#include "api/routes.hpp"
#include "bus/control.hpp"
#include "bus/jetstream.hpp"
#include "bus/nats_client.hpp"
#include "bus/realtime_channel.hpp"
#include "cache/redis_client.hpp"
#include "cache/token_leases.hpp"
#include "delivery/attempt_writer.hpp"
#include "delivery/http_client.hpp"
#include "delivery/ingest_batcher.hpp"
#include "delivery/relay.hpp"
#include "delivery/routing_cache.hpp"
#include "delivery/worker_pool.hpp"
#include "http/server.hpp"
#include "http/upgrade.hpp"
#include "ws/gateway.hpp"
#include "psig/common/metrics.hpp"
#include "psig/common/offload.hpp"
#include "psig/storage/migrator.hpp"
#include "psig/storage/repositories.hpp"
#include "storage/pg_pool.hpp"

namespace psig::app {
namespace {

std::vector<domain::cidr> allow_list(const config& c) {
  std::vector<domain::cidr> out;
  for (const auto& text : c.ssrf_allow) {
    if (auto net = domain::parse_cidr(text)) out.push_back(*net);
  }
  return out;
}

delivery::http_client_options delivery_client_options(const config& c) {
  delivery::http_client_options o;
  o.ssrf_allow = allow_list(c);
  // As many idle connections per origin as attempts can run at once: with fewer, a busy
  // receiver gets a new TCP connection for most attempts (measured with 8 kept: 20 ms per
  // attempt on loopback instead of 6.5 ms, and a fifth less drain). Idle ones close after 30 s.
  o.max_idle_per_origin = static_cast<std::size_t>(c.delivery_concurrency);
  return o;
}

// Project settings override the node's defaults (validated when the project was written).
double project_setting(const storage::project& p, const char* key, int fallback) {
  const auto it = p.settings.find(key);
  if (it == p.settings.end() || !it->is_number() || it->get<double>() <= 0) return fallback;
  return it->get<double>();
}

}  // namespace

struct application::parts {
  explicit parts(const config& c)
      : blocking(4),
        pg(c.database_url, static_cast<std::size_t>(c.database_pool_size)),
        repos(pg),
        // Invalidations sent while we were away are lost: forget every project's routes.
        nats(c.nats_url, "projectsignal-" + c.node_id, [this] {
          routes.clear();
          credentials.clear();
        }),
        redis(*cache::parse_redis_url(c.redis_url)),
        js(nats, bus::stream_settings{bus::nats_names(c.nats_namespace),
                                      std::chrono::seconds(c.jetstream_ack_wait_seconds)}),
        control(nats, bus::nats_names(c.nats_namespace),
                [this](const std::string& project) {
                  routes.invalidate(project);
                  credentials.forget_project(project);
                }),
        relay(ioc, blocking, pg, js, metrics,
              delivery::relay_settings{.names = bus::nats_names(c.nats_namespace),
                                       .batch = 500,
                                       .poll = c.relay_poll,
                                       .delivery_lease = std::chrono::seconds(c.delivery_lease_seconds),
                                       .gauge_every = std::chrono::seconds(5),
                                       .retention_every = std::chrono::seconds(c.retention_sweep_seconds)}),
        ingest(pg, routes, metrics, bus::nats_names(c.nats_namespace),
               std::chrono::seconds(c.handoff_grace_seconds),
               [this](delivery::outbox_batch b) { relay.handoff(std::move(b)); }),
        http_client(ioc, delivery_client_options(c)),
        writer(pg, c.node_id, std::chrono::hours(c.consumer_disable_after_hours),
               [this](const std::string& project) { project_changed(project); }),
        workers(ioc, blocking, pg, js, http_client, writer, metrics,
                delivery::worker_settings{static_cast<std::size_t>(c.delivery_concurrency), 10,
                                          std::chrono::milliseconds(15'000), c.retry_schedule,
                                          [this](const std::string& consumer, double rate) {
                                            return consumer_rate_gate(consumer, rate);
                                          }}),
        gateway(repos, metrics, redis, blocking, js),
        // After the gateway: its callbacks may fire as soon as it subscribes.
        realtime(nats, bus::nats_names(c.nats_namespace),
                 [this](bus::ws_event e) { gateway.publish_ephemeral_received(std::move(e)); },
                 [this](bus::join_notice n) { gateway.joined(std::move(n)); }),
        api{api::api_settings{c.admin_token, c.signup_enabled, c.session_ttl_seconds},
            repos, blocking, metrics, {}},
        server(ioc, router, metrics,
               http::server_limits{c.http_max_header_bytes, c.http_max_body_bytes,
                                   c.http_read_timeout, c.http_idle_timeout}) {}

  std::atomic<bool> stopping{false};
  common::metrics_registry metrics;
  asio::io_context ioc;
  asio::thread_pool blocking;
  storage::pg_pool pg;
  storage::repositories repos;
  bus::nats_client nats;
  cache::redis_client redis;
  cache::token_leases leases;
  bus::jetstream js;
  delivery::routing_cache routes;
  api::auth_cache credentials;
  bus::control_channel control;
  delivery::relay relay;
  delivery::ingest_batcher ingest;
  delivery::http_delivery_client http_client;
  delivery::attempt_writer writer;
  delivery::worker_pool workers;
  ws::gateway gateway;
  bus::realtime_channel realtime;
  api::api_context api;
  http::router router;
  http::server server;

  // A project's ingest rate limit: from this node's lease of the shared bucket when it holds
  // enough, else one Redis call that also renews the lease.
  awaitable<api::rate_decision> admit_ingest(std::string key, double rate, double burst, int n) {
    const auto leased = leases.take(key, n);
    if (leased.ok) co_return api::rate_decision{};
    auto take = [this, key, rate, burst, n, renew = leased.renew] {
      const auto d = redis.take_tokens(key, rate, std::max(burst, static_cast<double>(n)), n,
                                       renew ? cache::token_leases::ahead_for(rate) : 0);
      if (renew) leases.add(key, d && d->allowed ? d->ahead : 0);
      // Redis down: ingest goes on (fail open); /readyz reports Redis as degraded.
      if (!d) return api::rate_decision{};
      return api::rate_decision{d->allowed, (d->retry_after_ms + 999) / 1000};
    };
    auto pending = common::offload(blocking, std::move(take));
    co_return co_await std::move(pending);
  }

  awaitable<int> consumer_rate_gate(const std::string& consumer, double rate) {
    auto take = [this, key = "psig:rl:consumer:" + consumer, rate] {
      const auto d = redis.take_tokens(key, rate, std::max(1.0, rate), 1);
      return d && !d->allowed ? std::max(1, d->retry_after_ms) : 0;  // Redis down: go
    };
    return common::offload(blocking, std::move(take));
  }

  // A project's keys, settings, consumers or subscriptions changed: drop what is cached of it
  // on every node.
  void project_changed(const std::string& project) {
    routes.invalidate(project);
    credentials.forget_project(project);
    asio::post(blocking, [this, project] { control.publish_project_changed(project); });
  }
};

application::application(config cfg) : cfg_(std::move(cfg)) {}
application::~application() = default;

int application::run() {
  try {
    const int applied = storage::migrate(cfg_.database_url);
    spdlog::info("database schema up to date ({} migrations applied now)", applied);
  } catch (const std::exception& e) {
    spdlog::error("cannot migrate the database: {}", e.what());
    return 1;
  }

  parts_ = std::make_unique<parts>(cfg_);
  auto& p = *parts_;
  wire_api();

  try {
    p.server.listen(cfg_.listen_host, cfg_.listen_port);
  } catch (const std::exception& e) {
    spdlog::error("cannot listen: {}", e.what());
    return 1;
  }
  start_pipeline();
  p.server.start();
  spdlog::info("projectsignal {} listening on {}:{} (node {}, {} I/O threads)", PSIG_VERSION,
               cfg_.listen_host, p.server.port(), cfg_.node_id, cfg_.io_threads);

  // SIGTERM: stop accepting and pulling, let in-flight requests and attempts finish within the
  // grace period, exit 0. Nothing acknowledged is lost: it is all in PostgreSQL already.
  asio::signal_set signals(p.ioc, SIGINT, SIGTERM);
  asio::steady_timer drain(p.ioc);
  std::chrono::steady_clock::time_point deadline;  // set when the signal arrives
  std::function<void()> wait_for_drain = [&] {
    const bool idle = p.server.connections() == 0 && p.workers.in_flight() == 0 &&
                      p.gateway.sessions() == 0;
    if (idle || std::chrono::steady_clock::now() >= deadline) {
      p.ioc.stop();
      return;
    }
    drain.expires_after(std::chrono::milliseconds(20));
    drain.async_wait([&](const boost::system::error_code&) { wait_for_drain(); });
  };
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("signal {} received: stopping", signo);
    deadline = std::chrono::steady_clock::now() + cfg_.shutdown_grace;
    p.server.stop();
    p.gateway.stop();  // every WebSocket closes with 4001: clients reconnect to another node
    p.relay.stop();
    p.workers.stop();
    p.stopping = true;
    wait_for_drain();
  });

  std::vector<std::thread> threads;
  auto run_loop = [&p] {
    for (;;) {
      try {
        p.ioc.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("unhandled exception on an I/O thread: {}", e.what());
      }
    }
  };
  for (int i = 1; i < cfg_.io_threads; ++i) threads.emplace_back(run_loop);
  run_loop();
  for (auto& t : threads) t.join();

  p.workers.join();
  p.pg.stop();
  p.blocking.join();
  p.nats.close();
  spdlog::info("stopped");
  spdlog::default_logger()->flush();
  return 0;
}

void application::wire_api() {
  auto& p = *parts_;
  p.api.ingest = &p.ingest;
  p.api.wake_relay = [&p] { p.relay.wake(); };
  p.api.project_changed = [&p](const std::string& project) { p.project_changed(project); };
  p.api.credentials = &p.credentials;
  p.api.online_users = [&p](const std::string& project) { return p.gateway.online_users(project); };
  const int rate = cfg_.ingest_rate_per_second, burst = cfg_.ingest_burst;
  p.api.admit = [&p, rate, burst](const storage::project& project, std::size_t n) {
    return p.admit_ingest("psig:rl:ingest:" + project.id, project_setting(project, "ingest_rate_per_second", rate),
                          project_setting(project, "ingest_burst", burst), static_cast<int>(n));
  };
  p.api.health = {
      {"postgres", true,
       [&p]() {
         return p.pg.run([](pqxx::connection& c) {
           pqxx::nontransaction(c).exec("SELECT 1");
           return std::string("ok");
         });
       }},
      {"nats", true,
       [&p]() { return common::offload(p.blocking, [&p] { return p.nats.probe(); }); }},
      {"redis", false,
       [&p]() { return common::offload(p.blocking, [&p] { return p.redis.probe(); }); }},
  };
  p.metrics.on_collect([&p] {
    const char* help = "PostgreSQL pool connections (size), busy ones and queued queries";
    p.metrics.get_gauge("psig_db_pool_connections", help, {{"state", "size"}}).set(static_cast<double>(p.pg.size()));
    p.metrics.get_gauge("psig_db_pool_connections", help, {{"state", "busy"}}).set(static_cast<double>(p.pg.busy()));
    p.metrics.get_gauge("psig_db_pool_connections", help, {{"state", "queued"}}).set(static_cast<double>(p.pg.queued()));
    p.metrics.get_gauge("psig_http_connections", "open HTTP connections").set(static_cast<double>(p.server.connections()));
    p.metrics.get_gauge("psig_deliveries_in_flight", "delivery attempts running on this node")
        .set(static_cast<double>(p.workers.in_flight()));
  });
  ws::gateway_links links;
  links.ingest = &p.ingest;
  links.channel = &p.realtime;
  links.max_connections_per_project = cfg_.ws_max_connections_per_project;
  links.ping_interval = std::chrono::seconds(cfg_.ws_ping_seconds);
  links.send_buffer_bytes = cfg_.ws_send_buffer_bytes;
  links.admit = [&p](const storage::project& project) -> awaitable<bool> {
    auto pending = p.api.admit(project, 1);
    const auto decision = co_await std::move(pending);
    co_return decision.allowed;
  };
  p.gateway.link(std::move(links));
  api::register_routes(p.router, p.api);
  p.server.on_upgrade("/v1/ws", [&p](std::unique_ptr<http::upgrade_request> up) {
    p.gateway.accept(std::move(up));
  });
}

void application::start_pipeline() {
  auto& p = *parts_;
  // Streams and the durable consumer; NATS may be down at start-up: keep trying in the background.
  asio::post(p.blocking, [&p] {
    for (int i = 0; !p.stopping && !p.js.ensure(); ++i) {
      if (i == 0) spdlog::warn("JetStream not ready; retrying every second");
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    p.workers.start();
    if (p.stopping) return;
    // Every node receives the whole realtime stream for its local WebSocket sessions.
    if (auto state = p.js.ws_state()) p.gateway.set_stream_state(*state);
    if (!p.js.subscribe_ws([&p](bus::ws_event e) { p.gateway.publish(std::move(e)); })) {
      spdlog::error("realtime stream unavailable: WebSocket clients get no pushes");
    }
  });
  p.relay.start();
}

}  // namespace psig::app
