#pragma once
// A blocking WebSocket client for tests (Beast), on 127.0.0.1. Every read is bounded by a
// kernel receive timeout, so a missing frame fails the test instead of hanging it.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace psig::test {

class ws_client {
 public:
  // receive_buffer > 0 sets a small SO_RCVBUF before connecting, so that the server's writes
  // block while the test does not read.
  explicit ws_client(std::uint16_t port, std::chrono::milliseconds read_timeout = std::chrono::seconds(10),
                     int receive_buffer = 0);
  ~ws_client();

  void send(const nlohmann::json& j);
  void send_text(const std::string& text);
  // The next text frame as JSON; nullopt when the server closed the connection (see
  // close_code()) or the read timed out.
  std::optional<nlohmann::json> receive();
  // The same, unparsed (for large frames that a test only counts).
  std::optional<std::string> receive_text();
  // A WebSocket ping control frame (not the protocol's JSON ping), and the pongs seen by reads.
  void ping();
  int pongs() const;
  // The code of the server's close frame, once receive() saw it.
  std::optional<int> close_code() const { return close_code_; }

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
  std::optional<int> close_code_;
};

}  // namespace psig::test
