#pragma once
// Records attempts in batches (DESIGN §3): the attempt rows, the deliveries' new status, retry
// outbox rows and consumer disabling of many attempts go into one transaction, and each worker
// resumes (and acknowledges its NATS message) only after that commit.
#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "psig/common/asio.hpp"
#include "psig/common/offload.hpp"

namespace psig::storage {
class pg_pool;
}

namespace psig::delivery {

struct attempt_outcome {
  std::string project_id;
  std::string delivery_id;
  std::string consumer_id;
  int attempt = 1;
  std::chrono::system_clock::time_point started_at;
  int duration_ms = 0;
  std::optional<int> status_code;
  std::string error_class;  // empty on an HTTP response
  std::string error;
  std::string response_body;
  // What follows: succeeded, retrying (with next_at) or dead.
  std::string new_status;
  std::optional<std::chrono::system_clock::time_point> next_at;
  bool disable_consumer = false;  // 410 Gone
  std::string disable_reason;
};

class attempt_writer {
 public:
  // `consumers_disabled(project_id)` runs after a commit that switched consumers off.
  attempt_writer(storage::pg_pool& pool, std::string node_id,
                 std::chrono::hours failing_disable_after,
                 std::function<void(const std::string&)> consumers_disabled,
                 std::size_t max_batch = 500);
  // True when recorded now; false when this attempt was already recorded (a redelivery).
  awaitable<bool> record(attempt_outcome outcome);

 private:
  struct pending {
    attempt_outcome outcome;
    std::function<void(common::outcome<bool>)> done;
  };
  void start_locked();

  storage::pg_pool& pool_;
  std::string node_id_;
  std::chrono::hours failing_disable_after_;
  std::function<void(const std::string&)> consumers_disabled_;
  std::size_t max_batch_;
  std::mutex mutex_;
  std::deque<pending> queue_;
  bool running_ = false;
};

}  // namespace psig::delivery
