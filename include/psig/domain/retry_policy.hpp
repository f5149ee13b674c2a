#pragma once
// When to try a failed delivery again (DESIGN §8).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace psig::domain {

inline const std::vector<int> default_retry_schedule{5, 300, 1800, 7200, 18000, 36000, 36000};

enum class attempt_verdict {
  succeeded,  // 2xx
  retry,      // try again later (if the schedule has room)
  disable,    // 410 Gone: disable the consumer, the delivery is dead
};

// 2xx -> succeeded; 410 -> disable; everything else (other status codes, timeouts, connection
// and SSRF errors: status_code nullopt) -> retry.
attempt_verdict classify_attempt(std::optional<int> status_code);

struct retry_decision {
  bool give_up = false;                // schedule exhausted: the delivery becomes dead
  std::chrono::milliseconds delay{0};  // when !give_up
};

// `attempts_made` counts the attempt that just failed (1 after the first failure).
// delay = schedule[attempts_made - 1] with +-20 % jitter (jitter_unit in [0,1) maps linearly to
// [-20 %, +20 %]); a Retry-After (seconds) from a 429/503 replaces the scheduled delay when it is
// within [1 s, 24 h] (larger values are capped at 24 h; no jitter then).
retry_decision next_retry(const std::vector<int>& schedule, int attempts_made,
                          std::optional<std::chrono::seconds> retry_after, double jitter_unit);

// Parses a Retry-After header: delta-seconds ("120") or an HTTP-date
// ("Wed, 21 Oct 2015 07:28:00 GMT", relative to `now`). nullopt when malformed or in the past.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now);

}  // namespace psig::domain
