#pragma once
// libpqxx is blocking: every query runs on one of N dedicated threads, each owning one
// connection, so no I/O thread ever waits on PostgreSQL.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <pqxx/connection>
#include <pqxx/except>

#include "psig/common/offload.hpp"

namespace psig::storage {

class pg_pool {
 public:
  pg_pool(std::string url, std::size_t size);
  ~pg_pool();
  pg_pool(const pg_pool&) = delete;
  pg_pool& operator=(const pg_pool&) = delete;

  void stop();  // finishes queued work, then joins the threads

  // fn(pqxx::connection&) runs on a pool thread; its result or exception comes back to the
  // awaiting coroutine's executor.
  template <class Fn>
  awaitable<std::invoke_result_t<Fn&, pqxx::connection&>> run(Fn fn) {
    using R = std::invoke_result_t<Fn&, pqxx::connection&>;
    auto start = [this, fn = std::move(fn)](auto done) mutable {
      post([fn = std::move(fn), done = std::move(done)](pqxx::connection* c) mutable {
        auto call = [&]() -> R {
          if (c == nullptr) throw pqxx::broken_connection("database unavailable");
          return fn(*c);
        };
        done(common::capture<R>(call));
      });
    };
    return common::suspend_until<R>(std::move(start));
  }

  // nullptr when the thread cannot connect right now; the job then fails on its own.
  using job = std::function<void(pqxx::connection*)>;
  // Fire and forget, for components that are not coroutines (the batchers).
  void post(job j);

  std::size_t size() const { return size_; }
  std::size_t busy() const;
  std::size_t queued() const;

 private:
  void worker();

  std::string url_;
  std::size_t size_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<job> jobs_;
  std::size_t busy_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace psig::storage
