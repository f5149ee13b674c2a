#pragma once
// The outbox relay, which is also the sweeper (DESIGN §3). The relay claims due outbox rows
// with FOR UPDATE SKIP LOCKED (so two nodes never publish a row at once) and publishes them to
// JetStream with Nats-Msg-Id = delivery id + attempt. Those of websocket consumers go to PSIG_WS
// and are done: deleted. Webhook-like deliveries go to the PSIG_DELIVERIES work queue and their
// rows stay as the in-flight lease, due again after delivery_lease; the attempt writer deletes
// them with the attempt's result. A lease that runs out (a crashed node, a lost message) makes
// the row due, and the relay publishes it again: PostgreSQL is the truth.
// The hand-off publishes what an ingest transaction just committed from the node that wrote it,
// without waiting for a relay cycle: the ingest batcher writes those outbox rows due only after
// handoff_grace_seconds, so the relay publishes one only when its hand-off was lost (a crash
// between COMMIT and publish; the same message id, so JetStream stores it once).
// The retention loop deletes events older than their project's retention_days, in small
// batches (their deliveries, attempts and outbox rows cascade).
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include "bus/nats_names.hpp"
#include "delivery/outbox_publish.hpp"
#include "psig/common/asio.hpp"
#include "psig/common/metrics.hpp"

namespace psig::storage {
class pg_pool;
}
namespace psig::delivery {

struct relay_settings {
  bus::nats_names names = bus::nats_names("psig");
  std::size_t batch = 500;
  std::chrono::milliseconds poll{250};      // backstop when nobody wakes us
  std::chrono::seconds delivery_lease{300};  // published deliveries before they are published again
  std::chrono::seconds gauge_every{5};       // how often the outbox depth gauges are measured
  std::chrono::seconds stats_every{1};       // how often the queue tables' statistics are checked
  std::chrono::seconds retention_every{60};  // how often events past retention are deleted
};

class relay {
 public:
  relay(asio::io_context& ioc, asio::thread_pool& blocking, storage::pg_pool& pool, bus::jetstream& js,
        common::metrics_registry& metrics, relay_settings settings = {});
  void start();
  void stop();
  // Thread-safe: something was committed to the outbox, look now instead of at the next poll.
  void wake();
  // Thread-safe: publishes rows just committed (their outbox rows due after handoff_grace_seconds), on
  // the blocking pool, one publish at a time: what arrives meanwhile goes out together next.
  void handoff(outbox_batch batch);

 private:
  awaitable<void> relay_loop();
  awaitable<void> gauge_loop();
  awaitable<void> stats_loop();
  awaitable<void> retention_loop();
  void handoff_loop();

  asio::strand<asio::io_context::executor_type> strand_;
  asio::thread_pool& blocking_;
  asio::steady_timer timer_;
  asio::steady_timer gauge_timer_;
  asio::steady_timer stats_timer_;
  asio::steady_timer retention_timer_;
  storage::pg_pool& pool_;
  bus::jetstream& js_;
  common::metrics_registry& metrics_;
  relay_settings settings_;
  std::atomic<bool> woken_{false};
  std::atomic<bool> stopping_{false};
  std::mutex handoff_mutex_;
  outbox_batch handoff_queue_;
  bool handing_off_ = false;
};

}  // namespace psig::delivery
