#pragma once
#include <future>

#include <boost/asio/use_future.hpp>

namespace psig::test {

template <class T>
T run_sync(awaitable<T> a) {
  asio::io_context ioc;
  auto fut = asio::co_spawn(ioc, std::move(a), asio::use_future);
  ioc.run();
  return fut.get();
}

}  // namespace psig::test
