#pragma once
// The outbox relay and the sweeper (DESIGN §3). The relay claims due outbox rows with FOR
// UPDATE SKIP LOCKED and a lease (so two nodes never publish a row twice within a lease),
// publishes them to JetStream with Nats-Msg-Id = delivery id + attempt, and deletes them once
// JetStream acknowledged. Webhook-like deliveries go to the PSIG_DELIVERIES work queue; those of
// websocket consumers go to PSIG_WS and are done. The sweeper puts deliveries whose in-flight
// lease ran out (a crashed node, a lost message) back into the outbox: PostgreSQL is the truth.
// The retention loop deletes events older than their project's retention_days, in small
// batches (their deliveries, attempts and outbox rows cascade).
#include <atomic>
#include <chrono>
#include <string>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "bus/nats_names.hpp"
#include "psig/common/asio.hpp"
#include "psig/common/metrics.hpp"

namespace psig::storage {
class pg_pool;
}
namespace psig::bus {
class jetstream;
}

namespace psig::delivery {

struct relay_settings {
  bus::nats_names names = bus::nats_names("psig");
  std::size_t batch = 500;
  std::chrono::milliseconds poll{250};      // backstop when nobody wakes us
  std::chrono::seconds delivery_lease{300};  // published deliveries before the sweeper steps in
  std::chrono::seconds sweep_every{5};
  std::chrono::seconds retention_every{60};  // how often events past retention are deleted
};

class relay {
 public:
  relay(asio::io_context& ioc, storage::pg_pool& pool, bus::jetstream& js,
        common::metrics_registry& metrics, relay_settings settings = {});
  void start();
  void stop();
  // Thread-safe: something was committed to the outbox, look now instead of at the next poll.
  void wake();

 private:
  awaitable<void> relay_loop();
  awaitable<void> sweep_loop();
  awaitable<void> retention_loop();

  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer timer_;
  asio::steady_timer sweep_timer_;
  asio::steady_timer retention_timer_;
  storage::pg_pool& pool_;
  bus::jetstream& js_;
  common::metrics_registry& metrics_;
  relay_settings settings_;
  std::atomic<bool> woken_{false};
  std::atomic<bool> stopping_{false};
};

}  // namespace psig::delivery
