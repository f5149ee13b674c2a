#include "psig/common/time.hpp"

#include <chrono>
#include <optional>
#include <string>

#include <gtest/gtest.h>

namespace psig::common {
namespace {

using namespace std::chrono;
using namespace std::chrono_literals;

clock::time_point at(year_month_day ymd, seconds time_of_day = 0s) {
  return time_point_cast<clock::duration>(sys_days{ymd} + time_of_day);
}

TEST(Time, FormatsUtcWithMilliseconds) {
  EXPECT_EQ(format_rfc3339(clock::time_point{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339(at(2026y / 11 / 22, 4h + 34min + 37s) + 123ms),
            "2026-11-22T04:34:37.123Z");
  // Below a millisecond is cut, not rounded.
  EXPECT_EQ(format_rfc3339(at(2024y / 2 / 29) + 999us), "2024-02-29T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339(at(2024y / 2 / 29) + 1999us), "2024-02-29T00:00:00.001Z");
}

TEST(Time, FormatsBeforeTheEpoch) {
  EXPECT_EQ(format_rfc3339(clock::time_point{} - 1ms), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339(clock::time_point{} - 1500ms), "1969-12-31T23:59:58.500Z");
  EXPECT_EQ(format_rfc3339(clock::time_point{} - 1s), "1969-12-31T23:59:59.000Z");
}

TEST(Time, ParsesZulu) {
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z"), clock::time_point{});
  EXPECT_EQ(parse_rfc3339("2026-11-22T04:34:37Z"), at(2026y / 11 / 22, 4h + 34min + 37s));
  // RFC 3339 allows lower-case 't' and 'z'.
  EXPECT_EQ(parse_rfc3339("2026-11-22t04:34:37z"), at(2026y / 11 / 22, 4h + 34min + 37s));
}

TEST(Time, ParsesOffsets) {
  const auto noon_utc = at(2026y / 1 / 15, 12h);
  EXPECT_EQ(parse_rfc3339("2026-01-15T21:00:00+09:00"), noon_utc);
  EXPECT_EQ(parse_rfc3339("2026-01-15T06:30:00-05:30"), noon_utc);
  EXPECT_EQ(parse_rfc3339("2026-01-15T12:00:00+00:00"), noon_utc);
  EXPECT_EQ(parse_rfc3339("2026-01-15T12:00:00-00:00"), noon_utc);
  // The offset may move the instant across a day or year boundary.
  EXPECT_EQ(parse_rfc3339("2026-01-01T01:00:00+02:00"), at(2025y / 12 / 31, 23h));
}

TEST(Time, ParsesFractions) {
  const auto base = at(2026y / 3 / 1, 10h);
  EXPECT_EQ(parse_rfc3339("2026-03-01T10:00:00.1Z"), base + 100ms);
  EXPECT_EQ(parse_rfc3339("2026-03-01T10:00:00.123Z"), base + 123ms);
  EXPECT_EQ(parse_rfc3339("2026-03-01T10:00:00.000001Z"), base + 1us);
  EXPECT_EQ(parse_rfc3339("2026-03-01T10:00:00.123456789Z"), base + 123456789ns);
  // Digits beyond nanoseconds are accepted and ignored.
  EXPECT_EQ(parse_rfc3339("2026-03-01T10:00:00.1234567899999Z"), base + 123456789ns);
  EXPECT_EQ(parse_rfc3339("2026-03-01T19:00:00.5+09:00"), base + 500ms);
}

TEST(Time, LeapDays) {
  EXPECT_EQ(parse_rfc3339("2024-02-29T00:00:00Z"), at(2024y / 2 / 29));
  EXPECT_EQ(parse_rfc3339("2000-02-29T00:00:00Z"), at(2000y / 2 / 29));
  EXPECT_EQ(parse_rfc3339("2023-02-29T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_rfc3339("2100-02-29T00:00:00Z"), std::nullopt);
}

TEST(Time, RoundTrips) {
  for (const char* text : {"2026-11-22T04:34:37.123Z", "1999-12-31T23:59:59.999Z",
                           "2024-02-29T12:00:00.000Z", "1970-01-01T00:00:00.000Z"}) {
    const auto t = parse_rfc3339(text);
    ASSERT_TRUE(t.has_value()) << text;
    EXPECT_EQ(format_rfc3339(*t), text);
  }
  const auto now = time_point_cast<milliseconds>(clock::now());
  EXPECT_EQ(parse_rfc3339(format_rfc3339(now)), now);
}

TEST(Time, RejectsOutOfRangeFields) {
  for (const char* text : {
           "2026-13-01T00:00:00Z",  // month 13
           "2026-00-01T00:00:00Z",  // month 0
           "2026-02-30T00:00:00Z",  // Feb 30
           "2026-04-31T00:00:00Z",  // April has 30 days
           "2026-01-32T00:00:00Z",  // day 32
           "2026-01-00T00:00:00Z",  // day 0
           "2026-01-01T24:00:00Z",  // hour 24
           "2026-01-01T00:60:00Z",  // minute 60
           "2026-01-01T00:00:61Z",  // second 61
           "2026-01-01T00:00:00+24:00",
           "2026-01-01T00:00:00+01:60",
       }) {
    EXPECT_EQ(parse_rfc3339(text), std::nullopt) << text;
  }
}

TEST(Time, RejectsMalformedText) {
  for (const char* text : {
           "",
           "2026-01-01",                  // date only
           "2026-01-01T00:00:00",         // missing zone
           "2026-01-01T00:00Z",           // missing seconds
           "2026-01-01 00:00:00Z",        // space for 'T'
           "2026-01-01T00:00:00Zjunk",    // trailing junk
           "2026-01-01T00:00:00Z ",       // trailing blank
           " 2026-01-01T00:00:00Z",       // leading blank
           "2026-01-01T00:00:00.Z",       // fraction without digits
           "2026-01-01T00:00:00,5Z",      // comma fraction
           "2026-01-01T00:00:00+0900",    // offset without colon
           "2026-01-01T00:00:00+9:00",    // short offset hour
           "2026-01-01T00:00:00+09",      // offset without minutes
           "2026-01-01T00:00:00+09:00Z",  // two zones
           "26-01-01T00:00:00Z",          // two-digit year
           "2026-1-01T00:00:00Z",         // one-digit month
           "2026/01/01T00:00:00Z",        // wrong separator
           "2026-01-01T00:00:00ZZ",
           "+2026-01-01T00:00:00Z",
           "1234567890",
       }) {
    EXPECT_EQ(parse_rfc3339(text), std::nullopt) << text;
  }
}

TEST(Time, RejectsInstantsTheClockCannotHold) {
  // With nanosecond ticks these used to wrap around into unrelated times.
  EXPECT_EQ(parse_rfc3339("9999-12-31T23:59:59Z"), std::nullopt);
  EXPECT_EQ(parse_rfc3339("0001-01-01T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_rfc3339("2300-01-01T00:00:00Z"), std::nullopt);
  EXPECT_TRUE(parse_rfc3339("2200-01-01T00:00:00Z").has_value());
  EXPECT_TRUE(parse_rfc3339("1700-01-01T00:00:00Z").has_value());
}

}  // namespace
}  // namespace psig::common
