#pragma once
// Everything one delivery attempt needs (the delivery, its event, its consumer), loaded for all
// the attempts waiting at that moment in one query. Planning the three-table join took more
// PostgreSQL CPU than running it (~0.4 ms per message under load, measured with
// pg_stat_statements.track_planning), and messages arrive in fetches of up to 256: one query
// per batch plans once. (A prepared statement was tried and rejected: its generic plan, made
// while the tables were small, kept sequential scans as they grew.)
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "psig/common/asio.hpp"
#include "psig/common/offload.hpp"

namespace psig::storage {
class pg_pool;
}

namespace psig::delivery {

struct delivery_context {
  std::string project_id, consumer_id, status;
  int attempts = 0;
  std::string event_id, envelope;
  std::string kind;
  std::optional<std::string> url;
  nlohmann::json headers, body_template, settings;
  std::string consumer_status, secret;
  std::optional<std::string> previous_secret;
};

class context_loader {
 public:
  explicit context_loader(storage::pg_pool& pool, std::size_t max_batch = 256)
      : pool_(pool), max_batch_(max_batch) {}

  // nullopt: the delivery no longer exists. Throws when the database cannot answer.
  awaitable<std::optional<delivery_context>> load(std::string delivery_id);

 private:
  using result = std::optional<delivery_context>;
  struct pending {
    std::string id;
    std::function<void(common::outcome<result>)> done;
  };
  void start_locked();

  storage::pg_pool& pool_;
  std::size_t max_batch_;
  std::mutex mutex_;
  std::deque<pending> queue_;
  bool running_ = false;  // one query at a time: what arrives meanwhile waits for the next
};

}  // namespace psig::delivery
