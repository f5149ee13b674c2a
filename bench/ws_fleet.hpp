#pragma once
// K WebSocket clients on their own threads: each connects (for ProjectSignal: `connect` with a
// client token, then `subscribe`), then reads every frame, answering pings and timing each
// message by the send time inside it.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "histogram.hpp"
#include "rest.hpp"

namespace psig::bench {

enum class ws_protocol {
  psig,  // ProjectSignal's JSON protocol (DESIGN §9)
  raw,   // a peer that pushes the published body as a text frame (Nchan, Pushpin)
};

struct ws_fleet_config {
  endpoint target;
  std::string path = "/v1/ws";
  ws_protocol protocol = ws_protocol::psig;
  std::vector<std::string> tokens;  // psig: client i uses tokens[i % size]
  std::string pattern;              // psig: the one subscription
  int clients = 100;
  int threads = 1;
  int connect_parallel = 100;  // handshakes in flight at once
  double connect_rate = 0;     // clients opened per second; 0: as fast as handshakes allow
};

class ws_fleet {
 public:
  explicit ws_fleet(ws_fleet_config cfg);
  ~ws_fleet();
  // Opens every client; returns how many are ready (subscribed) within `timeout`.
  std::size_t open(std::chrono::milliseconds timeout);
  std::size_t ready() const;
  std::size_t closed() const;  // clients the server closed (or whose connection failed)
  // Starts counting afresh.
  void reset();
  std::uint64_t received() const;  // messages carrying a "seq" since reset()
  std::uint64_t slowest_received() const;  // the least of them over the clients still open
  // Waits until received() >= n or `timeout` passes.
  bool wait_received(std::uint64_t n, std::chrono::milliseconds timeout) const;
  histogram latency() const;  // send time inside the message -> receipt, since reset()
  // Seconds from reset() to the last receipt.
  double receive_seconds() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace psig::bench
