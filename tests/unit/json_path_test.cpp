#include "domain/json_path.hpp"

#include <optional>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace psig::domain {
namespace {

using json = nlohmann::json;

const json& doc() {
  static const json value = json::parse(R"({
    "data": {
      "title": "Hi", "zero": 0, "none": null,
      "items": [{"sku": "X1"}, {"sku": "Y2"}],
      "numbered": {"0": "key zero", "12": "key twelve"},
      "": "empty key"
    }
  })");
  return value;
}

std::string tokens(int n) {
  std::string out = "a";
  for (int i = 1; i < n; ++i) out += ".a";
  return out;
}

TEST(JsonPath, ValidPaths) {
  EXPECT_EQ(validate_path("a"), std::nullopt);
  EXPECT_EQ(validate_path("data.items.0.sku"), std::nullopt);
  EXPECT_EQ(validate_path(tokens(16)), std::nullopt);
  EXPECT_EQ(validate_path(std::string(255, 'p')), std::nullopt);
  // Any byte but '.' may appear in a token: object keys are arbitrary strings.
  EXPECT_EQ(validate_path("$weird key/é"), std::nullopt);
}

TEST(JsonPath, InvalidPathMessages) {
  EXPECT_EQ(validate_path(""), "must not be empty");
  EXPECT_EQ(validate_path(std::string(256, 'p')), "longer than 255 bytes");
  EXPECT_EQ(validate_path(tokens(17)), "more than 16 tokens");
  EXPECT_EQ(validate_path(tokens(16) + "."), "more than 16 tokens");
  EXPECT_EQ(validate_path(".a"), "token 1 is empty");
  EXPECT_EQ(validate_path("a..b"), "token 2 is empty");
  EXPECT_EQ(validate_path("a.b."), "token 3 is empty");
  EXPECT_EQ(validate_path("."), "token 1 is empty");
}

TEST(JsonPath, ParseSplitsTokensAndIndexes) {
  json_path path;
  ASSERT_EQ(parse_path("data.items.12.007.x1.1234567890", path), std::nullopt);
  ASSERT_EQ(path.size(), 6U);
  EXPECT_EQ(path[0].key, "data");
  EXPECT_EQ(path[0].index, not_an_index);
  EXPECT_EQ(path[2].key, "12");
  EXPECT_EQ(path[2].index, 12U);
  EXPECT_EQ(path[3].index, 7U);
  EXPECT_EQ(path[4].index, not_an_index);
  EXPECT_EQ(path[5].index, not_an_index);  // ten digits: too long to be an index
}

TEST(JsonPath, ParseErrorLeavesOutputAlone) {
  json_path path;
  ASSERT_EQ(parse_path("a.b", path), std::nullopt);
  EXPECT_EQ(parse_path("x..y", path), "token 2 is empty");
  ASSERT_EQ(path.size(), 2U);
  EXPECT_EQ(path[0].key, "a");
}

// Both overloads must agree; every case is checked through each.
const json* both(const json& root, const std::string& text) {
  json_path path;
  const json* by_tokens = parse_path(text, path) ? nullptr : lookup(root, path);
  const json* by_text = lookup(root, std::string_view(text));
  EXPECT_EQ(by_tokens, by_text) << text;
  return by_text;
}

TEST(JsonPath, LookupObjectsAndArrays) {
  ASSERT_NE(both(doc(), "data.title"), nullptr);
  EXPECT_EQ(*both(doc(), "data.title"), "Hi");
  EXPECT_EQ(*both(doc(), "data.items.1.sku"), "Y2");
  EXPECT_EQ(*both(doc(), "data.zero"), 0);
  ASSERT_NE(both(doc(), "data.none"), nullptr);  // present null is not missing
  EXPECT_TRUE(both(doc(), "data.none")->is_null());
  EXPECT_EQ(both(doc(), "data"), &doc()["data"]);
}

TEST(JsonPath, NumericTokensAreKeysOnObjects) {
  EXPECT_EQ(*both(doc(), "data.numbered.0"), "key zero");
  EXPECT_EQ(*both(doc(), "data.numbered.12"), "key twelve");
  EXPECT_EQ(both(doc(), "data.numbered.1"), nullptr);
}

TEST(JsonPath, LookupMisses) {
  EXPECT_EQ(both(doc(), "nothing"), nullptr);
  EXPECT_EQ(both(doc(), "data.title.deeper"), nullptr);  // through a string
  EXPECT_EQ(both(doc(), "data.zero.0"), nullptr);        // through a number
  EXPECT_EQ(both(doc(), "data.items.2"), nullptr);       // out of range
  EXPECT_EQ(both(doc(), "data.items.sku"), nullptr);     // non-numeric token on an array
  EXPECT_EQ(both(doc(), "data.items.-1"), nullptr);
  EXPECT_EQ(both(doc(), "data.items.1x"), nullptr);
  EXPECT_EQ(both(doc(), "data.items.4294967296"), nullptr);
  EXPECT_EQ(both(json(), "a"), nullptr);
  EXPECT_EQ(both(json(42), "a"), nullptr);
}

TEST(JsonPath, InvalidTextPathsNeverHalfResolve) {
  // "data." would otherwise reach the key "" under data.
  EXPECT_EQ(lookup(doc(), std::string_view("data.")), nullptr);
  EXPECT_EQ(lookup(doc(), std::string_view("")), nullptr);
  EXPECT_EQ(lookup(doc(), std::string_view("..")), nullptr);

  json deep = "leaf";
  for (int i = 0; i < 17; ++i) deep = json{{"a", deep}};
  EXPECT_NE(lookup(deep, std::string_view(tokens(16))), nullptr);
  EXPECT_EQ(lookup(deep, std::string_view(tokens(17))), nullptr);
}

TEST(JsonPath, ArrayRoot) {
  const json root = json::array({json::array({1, 2}), "x"});
  EXPECT_EQ(*both(root, "0.1"), 2);
  EXPECT_EQ(*both(root, "1"), "x");
  EXPECT_EQ(both(root, "00.01"), &root[0][1]);  // leading zeros still index
}

}  // namespace
}  // namespace psig::domain
