#pragma once
// Read and operator side of the pipeline's tables: events, deliveries and their attempts
// (the delivery log), with retry and discard. Scoped by project like every tenant query.
#include <optional>
#include <string>
#include <vector>

#include "psig/common/asio.hpp"
#include "psig/storage/models.hpp"

namespace psig::storage {

class pg_pool;

struct event_record {
  std::string id;
  std::string type;
  std::string envelope;  // byte-exact as delivered
  std::optional<std::string> idempotency_key;
  std::optional<std::string> deliver_at;
  std::string created_at;
};

struct attempt_record {
  int attempt = 0;
  std::string started_at;
  int duration_ms = 0;
  std::optional<int> status_code;
  std::optional<std::string> error_class;
  std::optional<std::string> error;
  std::optional<std::string> response_body;
  std::string node_id;
};

struct delivery_record {
  std::string id;
  std::string event_id;
  std::string event_type;
  std::string consumer_id;
  std::string status;
  int attempts = 0;
  std::optional<std::string> next_attempt_at;
  std::optional<int> last_status_code;
  std::optional<std::string> last_error;
  std::string created_at;
  std::string updated_at;
  std::vector<attempt_record> attempt_log;  // filled by find() only
};

struct delivery_filter {
  std::optional<std::string> status;
  std::optional<std::string> consumer_id;
  std::optional<std::string> event_type;
  std::optional<std::string> since;  // RFC 3339, on created_at, inclusive
  std::optional<std::string> until;  // exclusive
};

class delivery_log_repo {
 public:
  explicit delivery_log_repo(pg_pool& pool) : pool_(pool) {}

  awaitable<page<event_record>> list_events(std::string project_id, std::optional<std::string> type,
                                            page_request req);
  awaitable<std::optional<event_record>> find_event(std::string project_id, std::string id);
  awaitable<std::vector<delivery_record>> deliveries_of_event(std::string project_id,
                                                              std::string event_id);

  awaitable<page<delivery_record>> list_deliveries(std::string project_id, delivery_filter f,
                                                   page_request req);
  awaitable<std::optional<delivery_record>> find_delivery(std::string project_id, std::string id);

  enum class change { done, not_found, conflict };
  // Queues one more attempt now (dead, discarded, failed or succeeded deliveries); conflict when
  // the delivery is already queued or in flight.
  awaitable<change> retry(std::string project_id, std::string id);
  // Stops a delivery that has not succeeded; conflict when it already succeeded.
  awaitable<change> discard(std::string project_id, std::string id);

  struct bulk_result {
    long long count = 0;
    std::vector<std::string> sample;  // up to 10 ids
  };
  // Deliveries matching the filter whose status is dead (default) or the filter's status among
  // dead/discarded. With confirm, re-queues them (at most `limit` per call).
  awaitable<bulk_result> bulk_retry(std::string project_id, delivery_filter f, bool confirm,
                                    int limit);

 private:
  pg_pool& pool_;
};

}  // namespace psig::storage
