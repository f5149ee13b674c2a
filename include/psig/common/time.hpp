#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace psig::common {

using clock = std::chrono::system_clock;

// "2026-11-22T04:34:37.123Z" (UTC, milliseconds).
std::string format_rfc3339(clock::time_point t);

// RFC 3339 with 'Z' or a numeric offset, optional fraction; nullopt when malformed.
std::optional<clock::time_point> parse_rfc3339(std::string_view text);

}  // namespace psig::common
