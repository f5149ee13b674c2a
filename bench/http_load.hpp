#pragma once
// HTTP POST load: `connections` keep-alive connections, each sending its next request when the
// previous answer arrived (closed loop, as fast as answers come) or on a fixed schedule (open
// loop at `rate` requests/s in all).
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "histogram.hpp"
#include "rest.hpp"

namespace psig::bench {

struct http_load_config {
  endpoint target;
  std::string path = "/";
  std::string token;  // Authorization: Bearer, when set
  int connections = 64;
  int threads = 1;
  std::chrono::milliseconds duration{10'000};
  double rate = 0;               // requests/s over all connections; 0: closed loop
  std::uint64_t max_requests = 0;  // stop after this many (0: at the end of `duration`)
  unsigned expect_status = 202;  // 0: any 2xx
  std::function<std::string(std::uint64_t seq)> body;  // the body of request number seq
  // Flow control: request number n waits until n < done() + window, where done() counts the
  // requests whose effect has been observed downstream (0: no window).
  std::uint64_t window = 0;
  std::function<std::uint64_t()> done;
};

struct http_load_result {
  std::uint64_t ok = 0;
  std::uint64_t errors = 0;  // other status codes and transport errors
  double seconds = 0;        // from the first request to the last answer
  histogram latency;         // request -> answer
};

http_load_result run_http_load(const http_load_config& cfg);

}  // namespace psig::bench
