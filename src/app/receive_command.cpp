#include "app/receive_command.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include "http/server.hpp"
#include "psig/domain/webhook_signature.hpp"

namespace psig::app {

int run_receiver(const std::string& listen, const std::string& secret) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "receive: --listen must be host:port\n");
    return 2;
  }
  const std::string host = listen.substr(0, colon);
  const int port = std::atoi(listen.c_str() + colon + 1);

  spdlog::set_level(spdlog::level::warn);  // the printed lines are the output, not access logs
  common::metrics_registry metrics;
  asio::io_context ioc;
  http::router routes;
  auto receive = [&secret](http::request& req) -> awaitable<http::response> {
    const auto id = req.header("webhook-id").value_or("");
    const auto ts_text = req.header("webhook-timestamp").value_or("0");
    const auto sig = req.header("webhook-signature").value_or("");
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    const bool ok = domain::verify_webhook(secret, id, std::atoll(std::string(ts_text).c_str()),
                                           req.body, sig, now);
    std::printf("%s %s %.*s %s\n", ok ? "verified" : "INVALID-SIGNATURE", req.path.c_str(),
                static_cast<int>(id.size()), id.data(), req.body.c_str());
    std::fflush(stdout);
    co_return ok ? http::empty_response(204)
                 : http::error_response(req, 400, "invalid_signature", "signature does not verify");
  };
  // Any path up to four segments deep: the consumer's URL decides, not the receiver.
  routes.add("POST", "/", receive);
  std::string path;
  for (int depth = 1; depth <= 4; ++depth) {
    path += "/{p" + std::to_string(depth) + "}";
    routes.add("POST", path, receive);
  }
  http::server server(ioc, routes, metrics, http::server_limits{});
  try {
    server.listen(host, static_cast<std::uint16_t>(port));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "receive: %s\n", e.what());
    return 1;
  }
  server.start();
  std::fprintf(stderr, "receiving webhooks on http://%s:%d/ (Ctrl-C stops)\n", host.c_str(), port);
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    server.stop();
    ioc.stop();
  });
  ioc.run();
  return 0;
}

}  // namespace psig::app
