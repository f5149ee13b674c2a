#include "storage/pg_pool.hpp"

#include <pqxx/nontransaction>
#include <spdlog/spdlog.h>

namespace psig::storage {

pg_pool::pg_pool(std::string url, std::size_t size) : url_(std::move(url)), size_(size) {
  for (std::size_t i = 0; i < size_; ++i) threads_.emplace_back([this] { worker(); });
}

pg_pool::~pg_pool() { stop(); }

void pg_pool::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void pg_pool::post(job j) {
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(std::move(j));
  }
  cv_.notify_one();
}

std::size_t pg_pool::busy() const {
  std::lock_guard lock(mutex_);
  return busy_;
}

std::size_t pg_pool::queued() const {
  std::lock_guard lock(mutex_);
  return jobs_.size();
}

void pg_pool::worker() {
  std::unique_ptr<pqxx::connection> conn;
  for (;;) {
    job j;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and the queue is drained
      j = std::move(jobs_.front());
      jobs_.pop_front();
      ++busy_;
    }
    // Connect lazily and again after a failure, so the daemon rides out a database restart.
    if (!conn || !conn->is_open()) {
      conn.reset();
      try {
        conn = std::make_unique<pqxx::connection>(url_);
        // Every query of the daemon is written for an index. The hot tables churn like queues
        // (a backlog drained, a project deleted), so PostgreSQL's statistics can say "nearly
        // empty" of a table that holds millions of dead or new rows, and a plan made then
        // sticks: the foreign-key checks' plans are cached for the connection's lifetime.
        // Measured: the outbox insert's check on deliveries read 14 M tuples by sequential scan
        // in 5 s of load. Sequential scans stay possible where no index applies.
        pqxx::nontransaction(*conn).exec("SET enable_seqscan = off");
      } catch (const std::exception& e) {
        spdlog::warn("database connection failed: {}", e.what());
        conn.reset();
      }
    }
    j(conn.get());
    std::lock_guard lock(mutex_);
    --busy_;
  }
}

}  // namespace psig::storage
