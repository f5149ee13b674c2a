#pragma once
// Public ids: "<prefix>_" followed by a 26-character ULID (Crockford base32, 48-bit Unix
// milliseconds then 80 random bits). Time-ordered, so lists page by id cheaply.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace psig::common {

// A new ULID. Monotonic within one thread: two ids made in the same millisecond still sort in
// creation order (the random part is incremented).
std::string new_ulid();

// new_id("prj") -> "prj_01JD...".
std::string new_id(std::string_view prefix);

// True when `id` is "<prefix>_" + a well-formed ULID (upper-case Crockford alphabet).
bool is_valid_id(std::string_view prefix, std::string_view id);

// Milliseconds since the Unix epoch encoded in a ULID (the 26 characters, no prefix).
std::optional<std::int64_t> ulid_time_ms(std::string_view ulid);

}  // namespace psig::common
