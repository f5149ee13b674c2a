#pragma once
// A trivial HTTP/1.1 server on loopback that answers every request with `status` and an empty
// body, keep-alive, on its own threads: the webhook receiver of the ingest, e2e and deliver
// modes, and (`psig-bench sink`) the HTTP ceiling of the machine.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace psig::bench {

class sink {
 public:
  // `on_body` runs for every request body, on a sink thread (it must be thread-safe).
  sink(const std::string& host, std::uint16_t port, int threads, unsigned status,
       std::function<void(std::string_view)> on_body = {});
  ~sink();
  std::uint16_t port() const;
  std::string url(const std::string& path = "/hook") const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace psig::bench
