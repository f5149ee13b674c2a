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

namespace detail {
template <class R>
awaitable<R> unwrap(awaitable<outcome<R>> pending) {
  auto out = co_await std::move(pending);
  if (out.error) std::rethrow_exception(out.error);
  co_return std::move(*out.value);
}
}  // namespace detail

// `start(done)` must arrange for `done(outcome<R>)` to be called exactly once, from any thread.
// g++ 12 miscompiles aggregate temporaries (closures with captures, brace-initialised structs)
// that live in a co_await expression: it copies them bitwise, and their strings then free a
// pointer they do not own. Rules of this code base, kept everywhere:
//   - name such a value before the co_await and std::move it in;
//   - functions that only wrap a lambda around their parameters return the awaitable instead of
//     being coroutines (the repositories, offload, pg_pool::run).
template <class R, class Start>
awaitable<R> suspend_until(Start start) {
  static_assert(!std::is_void_v<R>, "return a value (e.g. bool) from offloaded work");
  auto initiation = [start = std::move(start)](auto handler) mutable {
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
  };
  return detail::unwrap<R>(
      asio::async_initiate<const asio::use_awaitable_t<>&, void(outcome<R>)>(
          std::move(initiation), asio::use_awaitable));
}

// Runs fn() on `pool` (CPU-heavy work such as password hashing, or blocking client calls).
template <class Fn>
awaitable<std::invoke_result_t<Fn&>> offload(asio::thread_pool& pool, Fn fn) {
  using R = std::invoke_result_t<Fn&>;
  auto start = [&pool, fn = std::move(fn)](auto done) mutable {
    asio::post(pool, [fn = std::move(fn), done = std::move(done)]() mutable {
      done(capture<R>(fn));
    });
  };
  return suspend_until<R>(std::move(start));
}

}  // namespace psig::common
