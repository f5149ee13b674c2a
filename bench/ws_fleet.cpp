#include "ws_fleet.hpp"

#include <atomic>
#include <mutex>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <nlohmann/json.hpp>

#include "payload.hpp"

namespace psig::bench {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using clock = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct ws_fleet::impl {
  explicit impl(ws_fleet_config c)
      : cfg(std::move(c)),
        work(asio::make_work_guard(ioc)),
        each(static_cast<std::size_t>(std::max(cfg.clients, 0))) {}
  ws_fleet_config cfg;
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::vector<std::thread> threads;
  std::atomic<std::size_t> ready{0}, closed{0};
  std::atomic<std::uint64_t> received{0};
  struct client_state {
    std::atomic<std::uint64_t> received{0};  // since reset()
    std::atomic<bool> live{false};           // subscribed and still open
  };
  std::vector<client_state> each;
  std::atomic<bool> stopping{false};
  std::atomic<clock::rep> reset_at{0}, last_receipt{0};
  mutable std::mutex mutex;
  histogram latency;

  using ws_stream = websocket::stream<beast::tcp_stream>;

  // One request of the psig protocol and its reply; false unless the reply has `expect`.
  static asio::awaitable<bool> request(ws_stream& ws, beast::flat_buffer& buf, const std::string& msg,
                                       const char* expect) {
    auto [wec, wn] = co_await ws.async_write(asio::buffer(msg), use_tuple);
    if (wec) co_return false;
    for (;;) {
      auto [rec, rn] = co_await ws.async_read(buf, use_tuple);
      if (rec) co_return false;
      const auto text = beast::buffers_to_string(buf.data());
      buf.consume(buf.size());
      if (text == "{}") continue;
      co_return text.find(std::string("\"") + expect + "\"") != std::string::npos;
    }
  }

  void on_message(std::size_t index, std::string_view text) {
    const auto t = find_number(text, "t");
    if (!t || !find_number(text, "seq")) return;
    const auto now = now_us();
    {
      std::lock_guard lock(mutex);
      latency.record(now - *t);
    }
    received.fetch_add(1, std::memory_order_relaxed);
    each[index].received.fetch_add(1, std::memory_order_relaxed);
    last_receipt.store(clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  }

  asio::awaitable<void> client(std::size_t index) {
    auto ex = co_await asio::this_coro::executor;
    auto ws = std::make_unique<ws_stream>(ex);
    const tcp::endpoint ep(asio::ip::make_address(cfg.target.host), cfg.target.port);
    bool ok = false;
    beast::flat_buffer buf;
    auto [cec] = co_await beast::get_lowest_layer(*ws).async_connect(ep, use_tuple);
    if (!cec) {
      beast::get_lowest_layer(*ws).socket().set_option(tcp::no_delay(true));
      auto [hec] = co_await ws->async_handshake(cfg.target.host + ":" + std::to_string(cfg.target.port),
                                                cfg.path, use_tuple);
      ok = !hec;
    }
    if (ok && cfg.protocol == ws_protocol::psig) {
      const auto& token = cfg.tokens[index % cfg.tokens.size()];
      const auto connect = nlohmann::json{{"id", 1}, {"connect", {{"token", token}}}}.dump();
      ok = co_await request(*ws, buf, connect, "connect");
      if (ok) {
        const auto sub = nlohmann::json{{"id", 2}, {"subscribe", {{"pattern", cfg.pattern}}}}.dump();
        ok = co_await request(*ws, buf, sub, "subscribe");
      }
    }
    if (!ok) {
      ++closed;
      co_return;
    }
    each[index].live = true;
    ++ready;
    for (;;) {
      auto [rec, rn] = co_await ws->async_read(buf, use_tuple);
      if (rec) break;
      const auto data = buf.data();
      const std::string_view text(static_cast<const char*>(data.data()), data.size());
      if (text == "{}") {  // the psig ping
        auto [pec, pn] = co_await ws->async_write(asio::buffer(std::string_view("{}")), use_tuple);
        (void)pec;
      } else {
        on_message(index, text);
      }
      buf.consume(buf.size());
    }
    each[index].live = false;
    if (!stopping) ++closed;
  }

  asio::awaitable<void> opener() {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    const auto begin = clock::now();
    for (int i = 0; i < cfg.clients; ++i) {
      // At most connect_parallel handshakes in flight, and at most connect_rate per second.
      for (;;) {
        const auto in_flight = static_cast<std::size_t>(i) - ready - closed;
        const bool rate_ok = cfg.connect_rate <= 0 ||
                             std::chrono::duration<double>(clock::now() - begin).count() * cfg.connect_rate >= i;
        if (in_flight < static_cast<std::size_t>(cfg.connect_parallel) && rate_ok) break;
        timer.expires_after(std::chrono::milliseconds(1));
        co_await timer.async_wait(use_tuple);
      }
      asio::co_spawn(ioc, client(static_cast<std::size_t>(i)), asio::detached);
    }
  }
};

ws_fleet::ws_fleet(ws_fleet_config cfg) : impl_(std::make_unique<impl>(std::move(cfg))) {
  for (int i = 0; i < std::max(1, impl_->cfg.threads); ++i) {
    impl_->threads.emplace_back([this] { impl_->ioc.run(); });
  }
}

ws_fleet::~ws_fleet() {
  impl_->stopping = true;
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
}

std::size_t ws_fleet::open(std::chrono::milliseconds timeout) {
  asio::co_spawn(impl_->ioc, impl_->opener(), asio::detached);
  const auto deadline = clock::now() + timeout;
  while (clock::now() < deadline &&
         impl_->ready + impl_->closed < static_cast<std::size_t>(impl_->cfg.clients)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return impl_->ready;
}

std::size_t ws_fleet::ready() const { return impl_->ready; }
std::size_t ws_fleet::closed() const { return impl_->closed; }

void ws_fleet::reset() {
  std::lock_guard lock(impl_->mutex);
  impl_->latency = histogram();
  impl_->received = 0;
  for (auto& c : impl_->each) c.received = 0;
  impl_->reset_at = clock::now().time_since_epoch().count();
  impl_->last_receipt = impl_->reset_at.load();
}

std::uint64_t ws_fleet::received() const { return impl_->received; }

std::uint64_t ws_fleet::slowest_received() const {
  std::uint64_t least = UINT64_MAX;
  for (const auto& c : impl_->each) {
    if (c.live.load(std::memory_order_relaxed)) least = std::min(least, c.received.load(std::memory_order_relaxed));
  }
  return least == UINT64_MAX ? 0 : least;
}

bool ws_fleet::wait_received(std::uint64_t n, std::chrono::milliseconds timeout) const {
  const auto deadline = clock::now() + timeout;
  while (impl_->received < n) {
    if (clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

histogram ws_fleet::latency() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->latency;
}

double ws_fleet::receive_seconds() const {
  return std::chrono::duration<double>(clock::duration(impl_->last_receipt - impl_->reset_at)).count();
}

}  // namespace psig::bench
