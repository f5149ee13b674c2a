#pragma once
// Asio aliases shared by every module. Granular headers only: Beast stays inside src/http.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace psig {
namespace asio = boost::asio;
using asio::awaitable;
}  // namespace psig
