#include "app/application.hpp"

#include <thread>
#include <vector>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <pqxx/nontransaction>
#include <spdlog/spdlog.h>

#include "api/routes.hpp"
#include "bus/nats_client.hpp"
#include "cache/redis_client.hpp"
#include "http/server.hpp"
#include "psig/common/metrics.hpp"
#include "psig/common/offload.hpp"
#include "psig/storage/migrator.hpp"
#include "psig/storage/repositories.hpp"
#include "storage/pg_pool.hpp"

namespace psig::app {

struct application::parts {
  explicit parts(const config& c)
      : blocking(2),
        pg(c.database_url, static_cast<std::size_t>(c.database_pool_size)),
        repos(pg),
        nats(c.nats_url, "projectsignal-" + c.node_id),
        redis(*cache::parse_redis_url(c.redis_url)),
        api{api::api_settings{c.admin_token, c.signup_enabled, c.session_ttl_seconds},
            repos, blocking, metrics, {}},
        server(ioc, router, metrics,
               http::server_limits{c.http_max_header_bytes, c.http_max_body_bytes,
                                   c.http_read_timeout, c.http_idle_timeout}) {}

  common::metrics_registry metrics;
  asio::io_context ioc;
  asio::thread_pool blocking;
  storage::pg_pool pg;
  storage::repositories repos;
  bus::nats_client nats;
  cache::redis_client redis;
  api::api_context api;
  http::router router;
  http::server server;
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
  });
  api::register_routes(p.router, p.api);

  try {
    p.server.listen(cfg_.listen_host, cfg_.listen_port);
  } catch (const std::exception& e) {
    spdlog::error("cannot listen: {}", e.what());
    return 1;
  }
  p.server.start();
  spdlog::info("projectsignal {} listening on {}:{} (node {}, {} I/O threads)", PSIG_VERSION,
               cfg_.listen_host, p.server.port(), cfg_.node_id, cfg_.io_threads);

  // SIGTERM: stop accepting, let in-flight requests finish within the grace period, exit 0.
  asio::signal_set signals(p.ioc, SIGINT, SIGTERM);
  asio::steady_timer drain(p.ioc);
  std::chrono::steady_clock::time_point deadline;  // set when the signal arrives
  std::function<void()> wait_for_drain = [&] {
    if (p.server.connections() == 0 || std::chrono::steady_clock::now() >= deadline) {
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

  p.pg.stop();
  p.blocking.join();
  p.nats.close();
  spdlog::info("stopped");
  spdlog::default_logger()->flush();
  return 0;
}

}  // namespace psig::app
