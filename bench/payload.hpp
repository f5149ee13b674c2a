#pragma once
// The message every mode sends: JSON `{"t":<send time, Unix µs>,"seq":<n>,"pad":"xxx…"}` of
// about `size` bytes. Receivers find "t" and "seq" in whatever wraps it (a webhook envelope, a
// WebSocket push, a peer's raw frame) without parsing the whole text.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace psig::bench {

inline std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline std::string make_payload(std::uint64_t seq, std::size_t size) {
  std::string head = R"({"t":)" + std::to_string(now_us()) + R"(,"seq":)" + std::to_string(seq) + R"(,"pad":")";
  const std::size_t pad = size > head.size() + 2 ? size - head.size() - 2 : 0;
  head.append(pad, 'x');
  head += "\"}";
  return head;
}

// The integer after the first `"key":` in `text`.
inline std::optional<std::int64_t> find_number(std::string_view text, std::string_view key) {
  std::string needle = "\"";
  needle += key;
  needle += "\":";
  const auto at = text.find(needle);
  if (at == std::string_view::npos) return std::nullopt;
  std::int64_t v = 0;
  bool any = false;
  for (auto i = at + needle.size(); i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    v = v * 10 + (text[i] - '0');
    any = true;
  }
  if (!any) return std::nullopt;
  return v;
}

}  // namespace psig::bench
