#pragma once
// Moving work off the I/O threads: the coroutine suspends, the work runs on another thread, and
// the coroutine resumes on its own executor (its strand) with the value or the exception.
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/thread_pool.hpp>

#include "psig/common/asio.hpp"

namespace psig::common {

template <class R>
struct outcome {
  std::exception_ptr error;
  std::optional<R> value;
};

template <class R, class Fn>
outcome<R> capture(Fn& fn) {
  outcome<R> out;
  try {
    out.value.emplace(fn());
  } catch (...) {
    out.error = std::current_exception();
  }
  return out;
}

// `start(done)` must arrange for `done(outcome<R>)` to be called exactly once, from any thread.
template <class R, class Start>
awaitable<R> suspend_until(Start start) {
  static_assert(!std::is_void_v<R>, "return a value (e.g. bool) from offloaded work");
  auto out = co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(outcome<R>)>(
      [start = std::move(start)](auto handler) mutable {
        using handler_t = decltype(handler);
        auto ex = asio::get_associated_executor(handler);
        struct state {
          handler_t handler;
          asio::executor_work_guard<decltype(ex)> work;
        };
        auto s = std::make_shared<state>(state{std::move(handler), asio::make_work_guard(ex)});
        start([s](outcome<R> o) {
          auto resume_on = s->work.get_executor();
          asio::post(resume_on, [s, o = std::move(o)]() mutable {
            std::move(s->handler)(std::move(o));
            s->work.reset();
          });
        });
      },
      asio::use_awaitable);
  if (out.error) std::rethrow_exception(out.error);
  co_return std::move(*out.value);
}

// Runs fn() on `pool` (CPU-heavy work such as password hashing, or blocking client calls).
template <class Fn>
awaitable<std::invoke_result_t<Fn&>> offload(asio::thread_pool& pool, Fn fn) {
  using R = std::invoke_result_t<Fn&>;
  co_return co_await suspend_until<R>([&pool, fn = std::move(fn)](auto done) mutable {
    asio::post(pool, [fn = std::move(fn), done = std::move(done)]() mutable {
      done(capture<R>(fn));
    });
  });
}

}  // namespace psig::common
