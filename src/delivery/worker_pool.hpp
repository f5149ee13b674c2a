#pragma once
// HTTP delivery workers (DESIGN §3): every node pulls from the one durable JetStream consumer,
// so the queue is shared work. Bounded global concurrency and a per-consumer in-flight cap;
// each attempt is signed (Standard Webhooks), sent through the SSRF-guarded client, recorded in
// a batch, and only then acknowledged to JetStream.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/thread_pool.hpp>

#include "delivery/context_loader.hpp"
#include "psig/common/asio.hpp"
#include "psig/common/metrics.hpp"

namespace psig::storage {
class pg_pool;
}
namespace psig::bus {
class jetstream;
class work_message;
}  // namespace psig::bus

namespace psig::delivery {

class http_delivery_client;
class attempt_writer;

struct worker_settings {
  std::size_t max_concurrency = 256;
  int default_max_in_flight = 10;  // per consumer, unless its settings say otherwise
  std::chrono::milliseconds default_timeout{15'000};
  std::vector<int> retry_schedule;  // the default; consumers may override
  // Consumers with settings.rate_limit_per_second: milliseconds to wait before this attempt may
  // start (0: go). A Redis token bucket per consumer, shared by the nodes; fails open.
  std::function<awaitable<int>(const std::string& consumer_id, double rate)> rate_gate;
};

class worker_pool {
 public:
  worker_pool(asio::io_context& ioc, asio::thread_pool& blocking, storage::pg_pool& pool,
              bus::jetstream& js, http_delivery_client& http, attempt_writer& writer,
              common::metrics_registry& metrics, worker_settings settings);
  ~worker_pool();
  void start();
  // Stops pulling; attempts already running finish on their own (the daemon waits for them).
  void stop();
  // stop(), then waits for the fetch thread (before NATS closes).
  void join();
  std::size_t in_flight() const { return in_flight_.load(); }

 private:
  void fetch_loop();
  awaitable<void> handle(std::shared_ptr<bus::work_message> msg);
  void finished(const std::string& consumer_id);

  asio::io_context& ioc_;
  asio::thread_pool& blocking_;
  context_loader loader_;
  bus::jetstream& js_;
  http_delivery_client& http_;
  attempt_writer& writer_;
  common::metrics_registry& metrics_;
  worker_settings settings_;

  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> in_flight_{0};
  std::mutex mutex_;
  std::condition_variable slot_free_;
  std::unordered_map<std::string, int> per_consumer_;
  // The in-flight cap last read for each consumer: a message for a consumer at its cap is sent
  // back without a database round trip (a backlog would otherwise load the pool for nothing).
  std::unordered_map<std::string, int> known_cap_;
  std::thread fetcher_;
};

}  // namespace psig::delivery
