#include "ws/frame.hpp"

#include <cstdint>

namespace psig::ws {

std::string text_frame(std::string_view payload) {
  const std::uint64_t n = payload.size();
  std::string frame;
  frame.reserve(payload.size() + 10);
  frame.push_back(static_cast<char>(0x81));  // FIN, opcode 1 (text)
  if (n < 126) {
    frame.push_back(static_cast<char>(n));
  } else if (n <= 0xffff) {
    frame.push_back(static_cast<char>(126));
    frame.push_back(static_cast<char>(n >> 8));
    frame.push_back(static_cast<char>(n & 0xff));
  } else {
    frame.push_back(static_cast<char>(127));
    for (int shift = 56; shift >= 0; shift -= 8) frame.push_back(static_cast<char>((n >> shift) & 0xff));
  }
  frame.append(payload);
  return frame;
}

std::string_view frame_payload(std::string_view frame) {
  if (frame.size() < 2) return {};
  const auto len7 = static_cast<unsigned char>(frame[1]) & 0x7f;
  const std::size_t header = len7 < 126 ? 2 : len7 == 126 ? 4 : 10;
  return frame.size() < header ? std::string_view{} : frame.substr(header);
}

}  // namespace psig::ws
