#include "psig/domain/retry_policy.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <string>

namespace psig::domain {
namespace {

constexpr auto max_retry_after = std::chrono::hours{24};
// RFC 9110 asks recipients to handle delta-seconds up to 2^31 - 1; larger values saturate there
// so callers can add the result to a time without overflowing.
constexpr std::int64_t max_delta_seconds = 2147483647;

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

std::optional<int> digits(std::string_view text, std::size_t pos, std::size_t count) {
  if (pos + count > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (!is_digit(text[i])) return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

std::optional<std::chrono::seconds> parse_delta_seconds(std::string_view text) {
  std::int64_t value = 0;
  for (const char c : text) {
    if (!is_digit(c)) return std::nullopt;
    value = std::min(value * 10 + (c - '0'), max_delta_seconds + 1);
  }
  return std::chrono::seconds{std::min(value, max_delta_seconds)};
}

// IMF-fixdate, the form servers must send: "Sun, 06 Nov 1994 08:49:37 GMT". The obsolete
// RFC 850 and asctime forms are not accepted; a Retry-After we cannot read just leaves the
// regular schedule in charge.
std::optional<std::chrono::sys_seconds> parse_imf_fixdate(std::string_view text) {
  static constexpr std::array<std::string_view, 7> day_names{"Mon", "Tue", "Wed", "Thu",
                                                             "Fri", "Sat", "Sun"};
  static constexpr std::array<std::string_view, 12> month_names{
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  // "Sun, 06 Nov 1994 08:49:37 GMT" is exactly 29 bytes with fixed separator positions.
  if (text.size() != 29 || text.substr(3, 2) != ", " || text[7] != ' ' || text[11] != ' ' ||
      text[16] != ' ' || text[19] != ':' || text[22] != ':' || text.substr(25) != " GMT") {
    return std::nullopt;
  }
  if (std::find(day_names.begin(), day_names.end(), text.substr(0, 3)) == day_names.end()) {
    return std::nullopt;
  }
  const auto month_it = std::find(month_names.begin(), month_names.end(), text.substr(8, 3));
  if (month_it == month_names.end()) return std::nullopt;
  const auto day = digits(text, 5, 2);
  const auto year = digits(text, 12, 4);
  const auto hour = digits(text, 17, 2);
  const auto minute = digits(text, 20, 2);
  const auto second = digits(text, 23, 2);
  if (!day || !year || !hour || !minute || !second) return std::nullopt;
  if (*hour > 23 || *minute > 59 || *second > 60) return std::nullopt;
  const auto month = static_cast<unsigned>(month_it - month_names.begin() + 1);
  const std::chrono::year_month_day ymd{std::chrono::year{*year}, std::chrono::month{month},
                                        std::chrono::day{static_cast<unsigned>(*day)}};
  if (!ymd.ok()) return std::nullopt;
  return std::chrono::sys_days{ymd} + std::chrono::hours{*hour} + std::chrono::minutes{*minute} +
         std::chrono::seconds{*second};
}

}  // namespace

attempt_verdict classify_attempt(std::optional<int> status_code) {
  if (!status_code) return attempt_verdict::retry;
  if (*status_code >= 200 && *status_code <= 299) return attempt_verdict::succeeded;
  if (*status_code == 410) return attempt_verdict::disable;
  return attempt_verdict::retry;
}

retry_decision next_retry(const std::vector<int>& schedule, int attempts_made,
                          std::optional<std::chrono::seconds> retry_after, double jitter_unit) {
  retry_decision decision;
  const auto index = static_cast<std::size_t>(std::max(attempts_made, 1) - 1);
  if (index >= schedule.size()) {
    decision.give_up = true;
    return decision;
  }
  // The receiver knows its own load better than our schedule does, but a huge value must not
  // park the delivery for weeks; below a second it is noise and the schedule (with jitter, so
  // throttled senders do not return in lockstep) is the better guide.
  if (retry_after && *retry_after >= std::chrono::seconds{1}) {
    decision.delay = std::min<std::chrono::milliseconds>(*retry_after, max_retry_after);
    return decision;
  }
  // NaN would poison the delay; no jitter is the harmless reading of it.
  jitter_unit = std::isnan(jitter_unit) ? 0.5 : std::clamp(jitter_unit, 0.0, 1.0);
  const double base_ms = static_cast<double>(std::max(schedule[index], 0)) * 1000.0;
  const double factor = 0.8 + 0.4 * jitter_unit;
  decision.delay = std::chrono::milliseconds{std::llround(base_ms * factor)};
  return decision;
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  if (is_digit(value.front())) return parse_delta_seconds(value);
  const auto when = parse_imf_fixdate(value);
  if (!when) return std::nullopt;
  // In whole seconds: a year-9999 date does not fit the clock's nanoseconds. Rounded up so the
  // retry never comes before the date: with a fractional `now` in the same second, it has passed.
  const auto now_s = std::chrono::floor<std::chrono::seconds>(now);
  if (*when < now_s || (*when == now_s && now > now_s)) return std::nullopt;
  return std::chrono::seconds{std::min<std::int64_t>((*when - now_s).count(), max_delta_seconds)};
}

}  // namespace psig::domain
