#include "http_load.hpp"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace psig::bench {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using clock = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

struct connection_stats {
  std::uint64_t ok = 0, errors = 0;
  histogram latency;
};

struct run_state {
  const http_load_config& cfg;
  tcp::endpoint ep;
  clock::time_point start, stop;
  std::atomic<std::uint64_t> seq{0};
  std::atomic<clock::rep> last_answer{0};
};

asio::awaitable<void> connection(run_state& st, int index, connection_stats& out) {
  const auto& cfg = st.cfg;
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer pace(ex);
  // Open loop: this connection's share of the rate, staggered so the sends interleave.
  const auto interval = cfg.rate > 0 ? std::chrono::duration<double>(cfg.connections / cfg.rate)
                                     : std::chrono::duration<double>(0);
  auto next = st.start + std::chrono::duration_cast<clock::duration>(interval * index / cfg.connections);
  std::unique_ptr<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  http::request<http::string_body> req{http::verb::post, cfg.path, 11};
  req.set(http::field::host, cfg.target.host);
  req.set(http::field::content_type, "application/json");
  if (!cfg.token.empty()) req.set(http::field::authorization, "Bearer " + cfg.token);
  req.keep_alive(true);
  for (;;) {
    if (cfg.rate > 0) {
      pace.expires_at(next);
      co_await pace.async_wait(use_tuple);
      next += std::chrono::duration_cast<clock::duration>(interval);
    }
    if (clock::now() >= st.stop) break;
    const auto n = st.seq.fetch_add(1);
    if (cfg.max_requests > 0 && n >= cfg.max_requests) break;
    while (cfg.window > 0 && cfg.done && n >= cfg.done() + cfg.window && clock::now() < st.stop) {
      pace.expires_after(std::chrono::milliseconds(1));
      co_await pace.async_wait(use_tuple);
    }
    if (clock::now() >= st.stop) break;
    if (!stream) {
      stream = std::make_unique<beast::tcp_stream>(ex);
      auto [cec] = co_await stream->async_connect(st.ep, use_tuple);
      if (cec) {
        ++out.errors;
        stream.reset();
        continue;
      }
      stream->socket().set_option(tcp::no_delay(true));
    }
    req.body() = cfg.body(n);
    req.prepare_payload();
    const auto t0 = clock::now();
    http::response<http::string_body> res;
    auto [wec, wn] = co_await http::async_write(*stream, req, use_tuple);
    boost::system::error_code rec;
    if (!wec) std::tie(rec, std::ignore) = co_await http::async_read(*stream, buffer, res, use_tuple);
    const auto t1 = clock::now();
    if (wec || rec) {
      ++out.errors;
      stream.reset();
      buffer.clear();
      continue;
    }
    st.last_answer = std::max(st.last_answer.load(), t1.time_since_epoch().count());
    const auto code = res.result_int();
    if (cfg.expect_status == 0 ? code / 100 == 2 : code == cfg.expect_status) {
      ++out.ok;
      out.latency.record(std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count());
    } else {
      ++out.errors;
    }
    if (!res.keep_alive()) stream.reset();
  }
}

}  // namespace

http_load_result run_http_load(const http_load_config& cfg) {
  asio::io_context ioc;
  run_state st{cfg, tcp::endpoint(asio::ip::make_address(cfg.target.host), cfg.target.port), {}, {}};
  st.start = clock::now();
  st.stop = st.start + cfg.duration;
  std::vector<connection_stats> stats(static_cast<std::size_t>(cfg.connections));
  for (int i = 0; i < cfg.connections; ++i) {
    asio::co_spawn(ioc, connection(st, i, stats[static_cast<std::size_t>(i)]), asio::detached);
  }
  std::vector<std::thread> threads;
  for (int i = 1; i < cfg.threads; ++i) threads.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : threads) t.join();

  http_load_result r;
  for (const auto& s : stats) {
    r.ok += s.ok;
    r.errors += s.errors;
    r.latency.merge(s.latency);
  }
  const auto last = clock::time_point(clock::duration(st.last_answer.load()));
  r.seconds = std::chrono::duration<double>(std::max(last, st.start) - st.start).count();
  return r;
}

}  // namespace psig::bench
