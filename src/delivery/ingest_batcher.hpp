#pragma once
// Group commit (DESIGN §3): concurrent ingest requests queue here and are written together, many
// per PostgreSQL transaction — events, their deliveries and outbox rows in one prepared statement
// — and each request is answered only after the COMMIT that holds it. The deliveries due at once
// are then handed to the relay to publish (relay::handoff): written `in_flight`, with their
// outbox rows due only after the hand-off grace.
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "bus/nats_names.hpp"
#include "delivery/outbox_publish.hpp"
#include "delivery/routing_cache.hpp"
#include "psig/common/asio.hpp"
#include "psig/common/metrics.hpp"
#include "psig/common/offload.hpp"
#include "psig/domain/envelope.hpp"

namespace psig::storage {
class pg_pool;
}

namespace psig::delivery {

struct ingest_item {
  std::string project_id;
  domain::event_request request;
  std::string fingerprint;  // of the posted body, for idempotency; empty without a key
};

// The fingerprint is only ever compared between posts with one idempotency key, so without a
// key it is not computed (a hash of the whole body per event) and is stored as NULL.
inline ingest_item make_ingest_item(std::string project_id, domain::event_request request,
                                    const nlohmann::json& body) {
  std::string fingerprint = request.idempotency_key ? domain::request_fingerprint(body) : std::string();
  return ingest_item{std::move(project_id), std::move(request), std::move(fingerprint)};
}

struct ingest_result {
  enum class outcome { created, duplicate, conflict };
  outcome result = outcome::created;
  std::string event_id;
  int deliveries = 0;
};

// Some requests' items, written in one transaction: per request, per item, its result; and the
// outbox rows to hand off.
struct ingest_written {
  std::vector<std::vector<ingest_result>> results;
  outbox_batch handoff;
};

class ingest_batcher {
 public:
  // on_commit receives, after each COMMIT, the outbox rows due now that it committed.
  ingest_batcher(storage::pg_pool& pool, routing_cache& routes, common::metrics_registry& metrics,
                 bus::nats_names names, std::chrono::seconds handoff_grace,
                 std::function<void(outbox_batch)> on_commit, std::size_t max_batch_events = 1000,
                 std::size_t max_parallel = 2);

  // One request's events (one, or a batch of up to 500), answered together after their commit.
  awaitable<std::vector<ingest_result>> submit(std::vector<ingest_item> items);

 private:
  struct pending {
    std::vector<ingest_item> items;
    std::function<void(common::outcome<std::vector<ingest_result>>)> done;
  };
  // Writes some requests' items in one transaction.
  using batch_writer = std::function<ingest_written(const std::vector<const std::vector<ingest_item>*>&)>;
  void enqueue(pending p);
  void start_batches_locked();
  void run(std::vector<pending>& batch, const batch_writer& write);

  storage::pg_pool& pool_;
  routing_cache& routes_;
  common::metrics_registry& metrics_;
  bus::nats_names names_;
  std::chrono::seconds handoff_grace_;
  std::function<void(outbox_batch)> on_commit_;
  std::size_t max_batch_events_;
  std::size_t max_parallel_;
  std::mutex mutex_;
  std::deque<pending> queue_;
  std::size_t running_ = 0;
};

}  // namespace psig::delivery
