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
  explicit ws_client(std::uint16_t port, std::chrono::milliseconds read_timeout = std::chrono::seconds(10));
  ~ws_client();

  void send(const nlohmann::json& j);
  void send_text(const std::string& text);
  // The next text frame as JSON; nullopt when the server closed the connection (see
  // close_code()) or the read timed out.
  std::optional<nlohmann::json> receive();
  // The same, unparsed (for large frames that a test only counts).
  std::optional<std::string> receive_text();
  // The code of the server's close frame, once receive() saw it.
  std::optional<int> close_code() const { return close_code_; }

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
  std::optional<int> close_code_;
};

}  // namespace psig::test
