#include "psig/domain/pattern.hpp"

#include <algorithm>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace psig::domain {
namespace {

std::string join_tokens(std::size_t count, const std::string& token) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) {
    if (i > 0) out += '.';
    out += token;
  }
  return out;
}

TEST(EventType, AcceptsOrdinaryTypes) {
  EXPECT_EQ(validate_event_type("chat"), std::nullopt);
  EXPECT_EQ(validate_event_type("chat.message.created"), std::nullopt);
  EXPECT_EQ(validate_event_type("A-b_9.z"), std::nullopt);
}

TEST(EventType, RejectsEmptyAndEmptyTokens) {
  EXPECT_EQ(validate_event_type(""), "must not be empty");
  EXPECT_EQ(validate_event_type(".a"), "token 1 is empty");
  EXPECT_EQ(validate_event_type("a..b"), "token 2 is empty");
  EXPECT_EQ(validate_event_type("a.b."), "token 3 is empty");
  EXPECT_EQ(validate_event_type("."), "token 1 is empty");
}

TEST(EventType, TokenCountLimit) {
  EXPECT_EQ(validate_event_type(join_tokens(16, "a")), std::nullopt);
  EXPECT_EQ(validate_event_type(join_tokens(17, "a")), "more than 16 tokens");
}

TEST(EventType, ByteLimit) {
  // Maximal in both limits: 16 tokens of 15 bytes + 15 dots = 255 bytes.
  const std::string max = join_tokens(16, std::string(15, 'x'));
  ASSERT_EQ(max.size(), 255u);
  EXPECT_EQ(validate_event_type(max), std::nullopt);
  EXPECT_EQ(validate_event_type(std::string(255, 'x')), std::nullopt);
  EXPECT_EQ(validate_event_type(std::string(256, 'x')), "longer than 255 bytes");
  EXPECT_EQ(validate_event_type(max + "y"), "longer than 255 bytes");
}

TEST(EventType, RejectsBadCharactersAndWildcards) {
  EXPECT_EQ(validate_event_type("a.b c"), "token 2 has an invalid character");
  EXPECT_EQ(validate_event_type("a/b"), "token 1 has an invalid character");
  EXPECT_EQ(validate_event_type("caf\xc3\xa9"), "token 1 has an invalid character");
  EXPECT_EQ(validate_event_type(std::string("a\0b", 3)), "token 1 has an invalid character");
  EXPECT_TRUE(validate_event_type("a.*").has_value());
  EXPECT_TRUE(validate_event_type(">").has_value());
  EXPECT_EQ(validate_event_type("a*"), "token 1 has an invalid character");
  EXPECT_EQ(validate_event_type("a.b>"), "token 2 has an invalid character");
}

TEST(Pattern, AcceptsWildcards) {
  for (const char* p : {"chat.message.*", "chat.>", ">", "*", "order.*.paid", "*.*.>", "a.b"}) {
    EXPECT_EQ(validate_pattern(p), std::nullopt) << p;
  }
}

TEST(Pattern, RejectsMisplacedWildcards) {
  EXPECT_EQ(validate_pattern(">.a"), "'>' may only be the last token");
  EXPECT_EQ(validate_pattern("a.>.b"), "'>' may only be the last token");
  EXPECT_EQ(validate_pattern("a*"), "token 1 mixes a wildcard with other characters");
  EXPECT_EQ(validate_pattern("a.b>"), "token 2 mixes a wildcard with other characters");
  EXPECT_EQ(validate_pattern("**"), "token 1 mixes a wildcard with other characters");
  EXPECT_EQ(validate_pattern("a.b c"), "token 2 has an invalid character");
}

TEST(Pattern, LimitsAndEmptyTokens) {
  EXPECT_EQ(validate_pattern(""), "must not be empty");
  EXPECT_EQ(validate_pattern("a..>"), "token 2 is empty");
  EXPECT_EQ(validate_pattern(join_tokens(16, "*")), std::nullopt);
  EXPECT_EQ(validate_pattern(join_tokens(15, "*") + ".>"), std::nullopt);
  EXPECT_EQ(validate_pattern(join_tokens(17, "*")), "more than 16 tokens");
  EXPECT_EQ(validate_pattern(std::string(255, 'p')), std::nullopt);
  EXPECT_EQ(validate_pattern(std::string(256, 'p')), "longer than 255 bytes");
}

TEST(PatternMatches, Exact) {
  EXPECT_TRUE(pattern_matches("a.b.c", "a.b.c"));
  EXPECT_FALSE(pattern_matches("a.b.c", "a.b"));
  EXPECT_FALSE(pattern_matches("a.b", "a.b.c"));
  EXPECT_FALSE(pattern_matches("a.b.c", "a.b.d"));
}

TEST(PatternMatches, NoPartialTokens) {
  EXPECT_FALSE(pattern_matches("chat", "chatter"));
  EXPECT_FALSE(pattern_matches("chat.msg", "chat.msgs"));
  EXPECT_FALSE(pattern_matches("chat.>", "chatter.x"));
  EXPECT_FALSE(pattern_matches("ab.c", "a.bc"));
}

TEST(PatternMatches, Star) {
  EXPECT_TRUE(pattern_matches("chat.*", "chat.x"));
  EXPECT_FALSE(pattern_matches("chat.*", "chat"));
  EXPECT_FALSE(pattern_matches("chat.*", "chat.x.y"));
  EXPECT_TRUE(pattern_matches("order.*.paid", "order.42.paid"));
  EXPECT_FALSE(pattern_matches("order.*.paid", "order.paid"));
  EXPECT_TRUE(pattern_matches("*", "x"));
  EXPECT_FALSE(pattern_matches("*", "x.y"));
}

TEST(PatternMatches, Tail) {
  EXPECT_TRUE(pattern_matches("chat.>", "chat.x"));
  EXPECT_TRUE(pattern_matches("chat.>", "chat.x.y.z"));
  EXPECT_FALSE(pattern_matches("chat.>", "chat"));
  EXPECT_TRUE(pattern_matches(">", "x"));
  EXPECT_TRUE(pattern_matches(">", "x.y.z"));
  EXPECT_TRUE(pattern_matches("*.>", "a.b"));
  EXPECT_FALSE(pattern_matches("*.>", "a"));
}

TEST(PatternTrie, EmptyTrieMatchesNothing) {
  pattern_trie<int> trie;
  EXPECT_TRUE(trie.empty());
  EXPECT_TRUE(trie.match("a.b").empty());
}

TEST(PatternTrie, DuplicatesAndMultipleValues) {
  pattern_trie<int> trie;
  trie.insert("a.b", 1);
  trie.insert("a.b", 1);  // duplicates are kept
  trie.insert("a.b", 2);
  trie.insert("a.*", 3);
  trie.insert("a.>", 4);
  trie.insert(">", 5);
  trie.insert("a", 6);
  trie.insert("b.b", 7);
  EXPECT_EQ(trie.size(), 8u);

  auto got = trie.match("a.b");
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int>{1, 1, 2, 3, 4, 5}));

  got = trie.match("a");
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int>{5, 6}));

  got = trie.match("a.c.d");
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int>{4, 5}));

  EXPECT_EQ(trie.match("c.d"), (std::vector<int>{5}));
}

TEST(PatternTrie, CallbackFormAndMoveOnlyValues) {
  pattern_trie<std::unique_ptr<int>> trie;
  trie.insert("x.*", std::make_unique<int>(7));
  int seen = 0;
  trie.match("x.y", [&](const std::unique_ptr<int>& v) { seen += *v; });
  EXPECT_EQ(seen, 7);
}

TEST(PatternTrie, InvalidTypesMatchNothing) {
  pattern_trie<int> trie;
  trie.insert(">", 1);
  EXPECT_TRUE(trie.match("").empty());
  EXPECT_TRUE(trie.match(join_tokens(17, "a")).empty());
  EXPECT_EQ(trie.match(join_tokens(16, "a")).size(), 1u);
}

// The trie must agree with the reference matcher on random inputs. A small token alphabet and
// short types make matches frequent, so agreement is tested on hits as well as misses.
TEST(PatternTrie, AgreesWithBruteForce) {
  std::mt19937 rng(20240611);
  const std::vector<std::string> alphabet = {"a", "b", "c", "dd"};
  auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n)(rng); };

  std::vector<std::string> patterns;
  pattern_trie<std::size_t> trie;
  for (std::size_t i = 0; i < 10000; ++i) {
    const std::size_t length = 1 + pick(4);
    std::string p;
    for (std::size_t t = 0; t < length; ++t) {
      if (t > 0) p += '.';
      const std::size_t roll = pick(9);
      if (roll == 0 && t + 1 == length) {
        p += '>';
      } else if (roll <= 2) {
        p += '*';
      } else {
        p += alphabet[pick(alphabet.size() - 1)];
      }
    }
    ASSERT_EQ(validate_pattern(p), std::nullopt) << p;
    trie.insert(p, i);
    patterns.push_back(std::move(p));
  }
  ASSERT_EQ(trie.size(), patterns.size());

  std::size_t total_matches = 0;
  for (int i = 0; i < 2000; ++i) {
    const std::size_t length = 1 + pick(5);
    std::string type;
    for (std::size_t t = 0; t < length; ++t) {
      if (t > 0) type += '.';
      type += alphabet[pick(alphabet.size() - 1)];
    }
    ASSERT_EQ(validate_event_type(type), std::nullopt) << type;

    std::vector<std::size_t> expected;
    for (std::size_t j = 0; j < patterns.size(); ++j) {
      if (pattern_matches(patterns[j], type)) expected.push_back(j);
    }
    std::vector<std::size_t> got = trie.match(type);
    std::sort(got.begin(), got.end());
    ASSERT_EQ(got, expected) << type;
    total_matches += got.size();
  }
  EXPECT_GT(total_matches, 2000u);  // the test is meaningless if nothing ever matches
}

}  // namespace
}  // namespace psig::domain

namespace psig::domain {
namespace {

TEST(PatternCovers, TokenRules) {
  EXPECT_TRUE(pattern_covers(">", "a"));
  EXPECT_TRUE(pattern_covers(">", "a.*.>"));
  EXPECT_TRUE(pattern_covers("chat.>", "chat.message.*"));
  EXPECT_TRUE(pattern_covers("chat.>", "chat.>"));
  EXPECT_TRUE(pattern_covers("chat.*", "chat.message"));
  EXPECT_TRUE(pattern_covers("chat.*", "chat.*"));
  EXPECT_TRUE(pattern_covers("chat.message.created", "chat.message.created"));
  EXPECT_FALSE(pattern_covers("chat.*", "chat.>"));             // '>' reaches deeper types
  EXPECT_FALSE(pattern_covers("chat.message", "chat.*"));       // a literal covers only itself
  EXPECT_FALSE(pattern_covers("chat.>", "chat"));               // '>' needs one more token
  EXPECT_FALSE(pattern_covers("chat.message.*", "chat.message"));
  EXPECT_FALSE(pattern_covers("chat.message", "chat.message.x"));
  EXPECT_FALSE(pattern_covers("order.*", "chat.message"));
}

// Covering means: every type the inner pattern matches, the outer one matches too. Checked
// against brute force over a small universe of types.
TEST(PatternCovers, AgreesWithMatchingOverAllShortTypes) {
  const std::vector<std::string> tokens{"a", "b"};
  std::vector<std::string> types;
  for (const auto& x : tokens) {
    types.push_back(x);
    for (const auto& y : tokens) {
      types.push_back(x + "." + y);
      for (const auto& z : tokens) types.push_back(x + "." + y + "." + z);
    }
  }
  std::vector<std::string> patterns{">", "*", "a", "a.>", "a.*", "*.b", "*.>", "a.b", "*.*",
                                    "a.*.b", "*.*.*", "a.b.>", "b.>"};
  for (const auto& outer : patterns) {
    for (const auto& inner : patterns) {
      bool covered = true;
      for (const auto& t : types) {
        if (pattern_matches(inner, t) && !pattern_matches(outer, t)) covered = false;
      }
      // Types here are at most 3 tokens: an inner '>' reaching further must not be covered by a
      // fixed-length outer, which the universe cannot show; those pairs are checked above.
      if (inner.find('>') != std::string::npos && outer.find('>') == std::string::npos) continue;
      EXPECT_EQ(pattern_covers(outer, inner), covered) << outer << " covers " << inner;
    }
  }
}

}  // namespace
}  // namespace psig::domain
