#include "psig/common/ids.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace psig::common {
namespace {

constexpr std::string_view crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST(Ids, UlidHasTwentySixCrockfordCharacters) {
  const std::string ulid = new_ulid();
  ASSERT_EQ(ulid.size(), 26u);
  for (const char c : ulid) EXPECT_NE(crockford.find(c), std::string_view::npos) << ulid;
  EXPECT_LE(ulid[0], '7');
}

TEST(Ids, NewIdCarriesPrefix) {
  const std::string id = new_id("prj");
  ASSERT_EQ(id.size(), 30u);
  EXPECT_EQ(id.substr(0, 4), "prj_");
  EXPECT_TRUE(is_valid_id("prj", id));
}

TEST(Ids, ValidationChecksPrefix) {
  const std::string id = new_id("evt");
  EXPECT_TRUE(is_valid_id("evt", id));
  EXPECT_FALSE(is_valid_id("dlv", id));
  EXPECT_FALSE(is_valid_id("ev", id));
  EXPECT_FALSE(is_valid_id("evtx", id));
  EXPECT_FALSE(is_valid_id("evt", "evt-" + id.substr(4)));
  EXPECT_FALSE(is_valid_id("evt", id.substr(4)));
  EXPECT_FALSE(is_valid_id("evt", ""));
}

TEST(Ids, ValidationRejectsBadCharactersAndLengths) {
  const std::string good = "acc_01ARZ3NDEKTSV4RRFFQ69G5FAV";
  ASSERT_TRUE(is_valid_id("acc", good));

  std::string lower = good;
  lower[10] = 'k';
  EXPECT_FALSE(is_valid_id("acc", lower));
  for (const char excluded : {'U', 'I', 'L', 'O'}) {
    std::string bad = good;
    bad[12] = excluded;
    EXPECT_FALSE(is_valid_id("acc", bad)) << excluded;
  }
  std::string punct = good;
  punct[20] = '-';
  EXPECT_FALSE(is_valid_id("acc", punct));

  EXPECT_FALSE(is_valid_id("acc", good.substr(0, good.size() - 1)));
  EXPECT_FALSE(is_valid_id("acc", good + "0"));
}

TEST(Ids, ValidationRejectsOverflowingFirstCharacter) {
  EXPECT_TRUE(is_valid_id("acc", "acc_7ZZZZZZZZZZZZZZZZZZZZZZZZZ"));
  EXPECT_FALSE(is_valid_id("acc", "acc_8ZZZZZZZZZZZZZZZZZZZZZZZZZ"));
  EXPECT_FALSE(is_valid_id("acc", "acc_Z0000000000000000000000000"));
  EXPECT_EQ(ulid_time_ms("80000000000000000000000000"), std::nullopt);
}

TEST(Ids, MonotonicInTightLoop) {
  std::vector<std::string> ids;
  ids.reserve(10'000);
  for (int i = 0; i < 10'000; ++i) ids.push_back(new_ulid());
  for (std::size_t i = 1; i < ids.size(); ++i) {
    ASSERT_LT(ids[i - 1], ids[i]) << "at " << i;
  }
}

TEST(Ids, UniqueAcrossThreads) {
  constexpr int per_thread = 2'000;
  std::vector<std::vector<std::string>> results(4);
  std::vector<std::thread> threads;
  threads.reserve(results.size());
  for (auto& out : results) {
    threads.emplace_back([&out] {
      for (int i = 0; i < per_thread; ++i) out.push_back(new_id("evt"));
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& out : results) all.insert(out.begin(), out.end());
  EXPECT_EQ(all.size(), results.size() * per_thread);
}

TEST(Ids, TimeIsCloseToNow) {
  const std::int64_t before = now_ms();
  const std::string ulid = new_ulid();
  const std::int64_t after = now_ms();
  const auto ms = ulid_time_ms(ulid);
  ASSERT_TRUE(ms.has_value());
  EXPECT_GE(*ms, before);
  EXPECT_LE(*ms, after);
}

TEST(Ids, TimeOfKnownUlid) {
  // The time part of the ULID specification's sample id, decoded independently (Python).
  EXPECT_EQ(ulid_time_ms("01ARZ3NDEKTSV4RRFFQ69G5FAV"), 1469922850259);
  EXPECT_EQ(ulid_time_ms("00000000000000000000000000"), 0);
  EXPECT_EQ(ulid_time_ms("7ZZZZZZZZZZZZZZZZZZZZZZZZZ"), (std::int64_t{1} << 48) - 1);
}

TEST(Ids, TimeRejectsMalformedUlid) {
  EXPECT_EQ(ulid_time_ms(""), std::nullopt);
  EXPECT_EQ(ulid_time_ms("01ARZ3NDEKTSV4RRFFQ69G5FA"), std::nullopt);
  EXPECT_EQ(ulid_time_ms("01arz3ndektsv4rrffq69g5fav"), std::nullopt);
  EXPECT_EQ(ulid_time_ms("01ARZ3NDEKTSV4RRFFQ69G5FAU"), std::nullopt);
}

}  // namespace
}  // namespace psig::common
