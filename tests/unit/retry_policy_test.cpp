#include "psig/domain/retry_policy.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>

#include "psig/common/time.hpp"

namespace psig::domain {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

TEST(ClassifyAttempt, StatusCodes) {
  EXPECT_EQ(classify_attempt(200), attempt_verdict::succeeded);
  EXPECT_EQ(classify_attempt(204), attempt_verdict::succeeded);
  EXPECT_EQ(classify_attempt(299), attempt_verdict::succeeded);
  EXPECT_EQ(classify_attempt(199), attempt_verdict::retry);
  EXPECT_EQ(classify_attempt(300), attempt_verdict::retry);  // redirects are not followed
  EXPECT_EQ(classify_attempt(404), attempt_verdict::retry);
  EXPECT_EQ(classify_attempt(410), attempt_verdict::disable);
  EXPECT_EQ(classify_attempt(429), attempt_verdict::retry);
  EXPECT_EQ(classify_attempt(500), attempt_verdict::retry);
  EXPECT_EQ(classify_attempt(std::nullopt), attempt_verdict::retry);  // timeout, refused, SSRF
}

TEST(NextRetry, FollowsTheDefaultScheduleThenGivesUp) {
  const auto& schedule = default_retry_schedule;
  ASSERT_EQ(schedule.size(), 7u);
  for (int attempt = 1; attempt <= 7; ++attempt) {
    const auto decision = next_retry(schedule, attempt, std::nullopt, 0.5);
    EXPECT_FALSE(decision.give_up) << attempt;
    EXPECT_EQ(decision.delay, milliseconds{schedule[attempt - 1] * 1000LL}) << attempt;
  }
  EXPECT_EQ(next_retry(schedule, 1, std::nullopt, 0.5).delay, 5s);
  EXPECT_EQ(next_retry(schedule, 2, std::nullopt, 0.5).delay, 5min);
  EXPECT_EQ(next_retry(schedule, 7, std::nullopt, 0.5).delay, 10h);
  EXPECT_TRUE(next_retry(schedule, 8, std::nullopt, 0.5).give_up);
  EXPECT_TRUE(next_retry(schedule, 100, std::nullopt, 0.5).give_up);
}

TEST(NextRetry, CustomAndEmptySchedules) {
  const std::vector<int> custom{1, 2};
  EXPECT_EQ(next_retry(custom, 1, std::nullopt, 0.5).delay, 1s);
  EXPECT_EQ(next_retry(custom, 2, std::nullopt, 0.5).delay, 2s);
  EXPECT_TRUE(next_retry(custom, 3, std::nullopt, 0.5).give_up);
  EXPECT_TRUE(next_retry({}, 1, std::nullopt, 0.5).give_up);
  // A nonsensical count is read as the first failure rather than indexing out of range.
  EXPECT_EQ(next_retry(custom, 0, std::nullopt, 0.5).delay, 1s);
  EXPECT_EQ(next_retry(custom, -3, std::nullopt, 0.5).delay, 1s);
}

TEST(NextRetry, JitterBounds) {
  const std::vector<int> schedule{100};
  EXPECT_EQ(next_retry(schedule, 1, std::nullopt, 0.0).delay, 80s);
  EXPECT_EQ(next_retry(schedule, 1, std::nullopt, 0.5).delay, 100s);
  const auto high = next_retry(schedule, 1, std::nullopt, std::nextafter(1.0, 0.0)).delay;
  EXPECT_LE(high, 120s);
  EXPECT_GE(high, 119'999ms);
  EXPECT_EQ(next_retry(schedule, 1, std::nullopt, 0.25).delay, 90s);
  // Out-of-range units are clamped, NaN means no jitter.
  EXPECT_EQ(next_retry(schedule, 1, std::nullopt, -1.0).delay, 80s);
  EXPECT_EQ(next_retry(schedule, 1, std::nullopt, 7.0).delay, 120s);
  EXPECT_EQ(next_retry(schedule, 1, std::nullopt, std::numeric_limits<double>::quiet_NaN()).delay,
            100s);
  // The largest default entry stays within +-20 % too.
  EXPECT_EQ(next_retry(default_retry_schedule, 7, std::nullopt, 0.0).delay, 8h);
}

TEST(NextRetry, RetryAfterReplacesTheDelay) {
  const auto decision = next_retry(default_retry_schedule, 1, 120s, 0.0);
  EXPECT_FALSE(decision.give_up);
  EXPECT_EQ(decision.delay, 120s);  // no jitter applied
  EXPECT_EQ(next_retry(default_retry_schedule, 5, 1s, 0.9).delay, 1s);
  EXPECT_EQ(next_retry(default_retry_schedule, 1, 24h, 0.9).delay, 24h);
}

TEST(NextRetry, RetryAfterIsCappedAt24Hours) {
  EXPECT_EQ(next_retry(default_retry_schedule, 1, 24h + 1s, 0.5).delay, 24h);
  EXPECT_EQ(next_retry(default_retry_schedule, 1, std::chrono::seconds{2147483647}, 0.5).delay,
            24h);
}

TEST(NextRetry, RetryAfterBelowOneSecondIsIgnored) {
  EXPECT_EQ(next_retry(default_retry_schedule, 2, 0s, 0.5).delay, 5min);
  EXPECT_EQ(next_retry(default_retry_schedule, 2, -5s, 0.0).delay, 4min);
}

TEST(NextRetry, RetryAfterDoesNotExtendTheSchedule) {
  EXPECT_TRUE(next_retry(default_retry_schedule, 8, 60s, 0.5).give_up);
}

const auto now = *common::parse_rfc3339("2015-10-21T07:28:00Z");

TEST(ParseRetryAfter, DeltaSeconds) {
  EXPECT_EQ(parse_retry_after("120", now), 120s);
  EXPECT_EQ(parse_retry_after("0", now), 0s);
  EXPECT_EQ(parse_retry_after(" 30\t", now), 30s);
  EXPECT_EQ(parse_retry_after("007", now), 7s);
  // Absurd values saturate instead of overflowing.
  EXPECT_EQ(parse_retry_after("99999999999999999999999", now), std::chrono::seconds{2147483647});
}

TEST(ParseRetryAfter, HttpDate) {
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now), 120s);
  EXPECT_EQ(parse_retry_after("Thu, 22 Oct 2015 07:28:00 GMT", now), 24h);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), 0s);
  // Rounded up: a retry must not come before the date.
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:01 GMT", now + 400ms), 1s);
  EXPECT_EQ(parse_retry_after("Fri, 01 Jan 2016 00:00:00 GMT", now),
            std::chrono::sys_days{std::chrono::year{2016} / 1 / 1} -
                std::chrono::floor<std::chrono::seconds>(now));
  // Far future dates do not overflow the clock.
  EXPECT_EQ(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now),
            std::chrono::seconds{2147483647});
}

TEST(ParseRetryAfter, PastDates) {
  EXPECT_FALSE(parse_retry_after("Wed, 21 Oct 2015 07:27:59 GMT", now));
  EXPECT_FALSE(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now));
  EXPECT_FALSE(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now + 1ms));
}

TEST(ParseRetryAfter, Garbage) {
  for (const char* bad : {"",
                          "   ",
                          "soon",
                          "-5",
                          "+5",
                          "1.5",
                          "12abc",
                          "5 s",
                          "Wed, 21 Oct 2015 07:30:00 UTC",
                          "Wed, 21 Oct 2015 07:30:00",
                          "Wed 21 Oct 2015 07:30:00 GMT",
                          "Xyz, 21 Oct 2015 07:30:00 GMT",
                          "Wed, 21 Foo 2015 07:30:00 GMT",
                          "Wed, 32 Oct 2015 07:30:00 GMT",
                          "Wed, 31 Feb 2015 07:30:00 GMT",
                          "Wed, 21 Oct 2015 24:30:00 GMT",
                          "Wed, 21 Oct 2015 07:60:00 GMT",
                          "Wed, 21 Oct 15 07:30:00 GMT",
                          "Wednesday, 21-Oct-15 07:30:00 GMT",
                          "Wed Oct 21 07:30:00 2015",
                          "Wed, 2x Oct 2015 07:30:00 GMT"}) {
    EXPECT_FALSE(parse_retry_after(bad, now)) << bad;
  }
}

}  // namespace
}  // namespace psig::domain
