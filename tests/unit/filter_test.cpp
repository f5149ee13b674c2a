#include "psig/domain/filter.hpp"

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace psig::domain {
namespace {

using json = nlohmann::json;

const json& envelope() {
  static const json env = json::parse(R"({
    "id": "evt_1", "type": "order.paid", "source": null,
    "data": {
      "amount": 150, "price": 9.5, "one": 1, "currency": "KRW", "tags": ["a", "b"],
      "items": [{"sku": "X1", "qty": 2}, {"sku": "Y2", "qty": 1}],
      "meta": {"vip": true, "note": null}, "big": 18446744073709551615
    }
  })");
  return env;
}

// Parses a spec that must be valid and evaluates it against the sample envelope.
bool match(const std::string& spec, const json& env = envelope()) {
  filter f;
  const auto e = filter::parse(json::parse(spec), f);
  EXPECT_FALSE(e.has_value()) << spec << " -> " << e->path << ": " << e->message;
  return f.matches(env);
}

filter_error error_of(const json& spec) {
  filter f;
  const auto e = filter::parse(spec, f);
  EXPECT_TRUE(e.has_value()) << spec.dump();
  return e.value_or(filter_error{"<none>", "<none>"});
}

void expect_error(const std::string& spec, const std::string& path, const std::string& message) {
  const filter_error e = error_of(json::parse(spec));
  EXPECT_EQ(e.path, path) << spec;
  EXPECT_EQ(e.message, message) << spec;
}

TEST(Filter, EmptyAndDefaultMatchEverything) {
  EXPECT_TRUE(match("{}"));
  EXPECT_TRUE(filter().matches(envelope()));
  EXPECT_TRUE(filter().matches(json()));
}

TEST(Filter, DesignExample) {
  EXPECT_TRUE(match(R"({"data.amount": {"$gte": 100}, "data.currency": "KRW"})"));
  EXPECT_FALSE(match(R"({"data.amount": {"$gte": 100}, "data.currency": "USD"})"));
  EXPECT_FALSE(match(R"({"data.amount": {"$gte": 200}, "data.currency": "KRW"})"));
}

TEST(Filter, EqAndImplicitEq) {
  EXPECT_TRUE(match(R"({"type": "order.paid"})"));
  EXPECT_TRUE(match(R"({"type": {"$eq": "order.paid"}})"));
  EXPECT_FALSE(match(R"({"type": {"$eq": "order.created"}})"));
  EXPECT_TRUE(match(R"({"data.meta.vip": true})"));
  EXPECT_TRUE(match(R"({"data.meta.note": null})"));
  EXPECT_FALSE(match(R"({"data.meta.missing": null})"));  // missing is not null
  EXPECT_TRUE(match(R"({"source": {"$eq": null}})"));
}

TEST(Filter, ImplicitEqWithObjectsAndArrays) {
  EXPECT_TRUE(match(R"({"data.tags": ["a", "b"]})"));
  EXPECT_FALSE(match(R"({"data.tags": ["b", "a"]})"));
  EXPECT_TRUE(match(R"({"data.meta": {"vip": true, "note": null}})"));
  EXPECT_FALSE(match(R"({"data.meta": {"vip": true}})"));
  EXPECT_TRUE(match(R"({"data.items.0": {"qty": 2, "sku": "X1"}})"));
  EXPECT_TRUE(match(R"({"data.tags": {"$eq": ["a", "b"]}})"));
  EXPECT_FALSE(match(R"({"data.meta": {}})"));  // {} is a literal, not an empty operator set
}

TEST(Filter, NumbersCompareByValue) {
  EXPECT_TRUE(match(R"({"data.one": 1.0})"));
  EXPECT_TRUE(match(R"({"data.amount": 150.0})"));
  EXPECT_TRUE(match(R"({"data.price": {"$gt": 9}})"));
  EXPECT_TRUE(match(R"({"data.items": [{"sku": "X1", "qty": 2.0}, {"sku": "Y2", "qty": 1}]})"));
  EXPECT_TRUE(match(R"({"data.one": {"$in": [3, 1.0]}})"));
  EXPECT_FALSE(match(R"({"data.one": "1"})"));
  EXPECT_TRUE(match(R"({"data.big": {"$gt": 0}})"));
}

TEST(Filter, Ne) {
  EXPECT_TRUE(match(R"({"type": {"$ne": "order.created"}})"));
  EXPECT_FALSE(match(R"({"type": {"$ne": "order.paid"}})"));
  EXPECT_TRUE(match(R"({"data.nothing": {"$ne": 1}})"));  // missing counts as "not equal"
  EXPECT_FALSE(match(R"({"data.one": {"$ne": 1.0}})"));
}

TEST(Filter, OrderingOperators) {
  EXPECT_TRUE(match(R"({"data.amount": {"$gt": 149}})"));
  EXPECT_FALSE(match(R"({"data.amount": {"$gt": 150}})"));
  EXPECT_TRUE(match(R"({"data.amount": {"$gte": 150}})"));
  EXPECT_FALSE(match(R"({"data.amount": {"$gte": 150.5}})"));
  EXPECT_TRUE(match(R"({"data.amount": {"$lt": 151}})"));
  EXPECT_FALSE(match(R"({"data.amount": {"$lt": 150}})"));
  EXPECT_TRUE(match(R"({"data.amount": {"$lte": 150}})"));
  EXPECT_FALSE(match(R"({"data.amount": {"$lte": -1}})"));
  EXPECT_TRUE(match(R"({"data.amount": {"$gt": 100, "$lt": 200}})"));
  EXPECT_FALSE(match(R"({"data.amount": {"$gt": 100, "$lt": 120}})"));
}

TEST(Filter, OrderingOnStrings) {
  EXPECT_TRUE(match(R"({"data.currency": {"$gt": "JPY"}})"));
  EXPECT_FALSE(match(R"({"data.currency": {"$gt": "KRW"}})"));
  EXPECT_TRUE(match(R"({"data.currency": {"$gte": "KRW", "$lte": "KRW"}})"));
  EXPECT_TRUE(match(R"({"data.currency": {"$lt": "USD"}})"));
}

TEST(Filter, OrderingTypeMismatchIsFalse) {
  EXPECT_FALSE(match(R"({"data.amount": {"$gt": "1"}})"));
  EXPECT_FALSE(match(R"({"data.amount": {"$lt": "zzz"}})"));
  EXPECT_FALSE(match(R"({"data.currency": {"$gt": 0}})"));
  EXPECT_FALSE(match(R"({"data.meta": {"$gte": 0}})"));
  EXPECT_FALSE(match(R"({"data.meta.vip": {"$lte": 1}})"));
  EXPECT_FALSE(match(R"({"data.nothing": {"$lt": 1}})"));
}

TEST(Filter, InAndNin) {
  EXPECT_TRUE(match(R"({"data.currency": {"$in": ["USD", "KRW"]}})"));
  EXPECT_FALSE(match(R"({"data.currency": {"$in": ["USD", "EUR"]}})"));
  EXPECT_FALSE(match(R"({"data.currency": {"$in": []}})"));
  EXPECT_TRUE(match(R"({"data.tags": {"$in": [["a", "b"], 3]}})"));
  EXPECT_FALSE(match(R"({"data.nothing": {"$in": [null]}})"));
  EXPECT_TRUE(match(R"({"data.currency": {"$nin": ["USD", "EUR"]}})"));
  EXPECT_FALSE(match(R"({"data.currency": {"$nin": ["KRW"]}})"));
  EXPECT_TRUE(match(R"({"data.nothing": {"$nin": ["KRW"]}})"));
  EXPECT_TRUE(match(R"({"data.currency": {"$nin": []}})"));
}

TEST(Filter, Exists) {
  EXPECT_TRUE(match(R"({"data.amount": {"$exists": true}})"));
  EXPECT_FALSE(match(R"({"data.amount": {"$exists": false}})"));
  EXPECT_TRUE(match(R"({"data.nothing": {"$exists": false}})"));
  EXPECT_FALSE(match(R"({"data.nothing": {"$exists": true}})"));
  EXPECT_TRUE(match(R"({"data.meta.note": {"$exists": true}})"));  // null exists
  EXPECT_TRUE(match(R"({"data.amount.deeper": {"$exists": false}})"));
}

TEST(Filter, Prefix) {
  EXPECT_TRUE(match(R"({"type": {"$prefix": "order."}})"));
  EXPECT_TRUE(match(R"({"type": {"$prefix": ""}})"));
  EXPECT_FALSE(match(R"({"type": {"$prefix": "chat."}})"));
  EXPECT_FALSE(match(R"({"type": {"$prefix": "order.paid.x"}})"));
  EXPECT_FALSE(match(R"({"data.amount": {"$prefix": "1"}})"));
  EXPECT_FALSE(match(R"({"data.nothing": {"$prefix": ""}})"));
}

TEST(Filter, ArrayIndexPaths) {
  EXPECT_TRUE(match(R"({"data.items.0.sku": "X1"})"));
  EXPECT_TRUE(match(R"({"data.items.1.qty": {"$lt": 2}})"));
  EXPECT_FALSE(match(R"({"data.items.2.sku": {"$exists": true}})"));
  EXPECT_TRUE(match(R"({"data.tags.1": "b"})"));
  EXPECT_FALSE(match(R"({"data.tags.x": {"$exists": true}})"));
  EXPECT_FALSE(match(R"({"data.tags.-1": {"$exists": true}})"));
  EXPECT_FALSE(match(R"({"data.tags.99999999999999999999": {"$exists": true}})"));
  // A numeric token on an object is an ordinary key.
  const json env = json::parse(R"({"data": {"0": "zero"}})");
  EXPECT_TRUE(match(R"({"data.0": "zero"})", env));
}

TEST(Filter, MissingPathsAndOddEnvelopes) {
  EXPECT_FALSE(match(R"({"data.currency.x": "KRW"})"));
  EXPECT_FALSE(match(R"({"nothing": 1})"));
  EXPECT_FALSE(match(R"({"type": "order.paid"})", json::array()));
  EXPECT_FALSE(match(R"({"type": "order.paid"})", json("order.paid")));
  EXPECT_TRUE(match(R"({"type": {"$ne": 1}})", json()));
}

TEST(Filter, TopLevelKeysAreAnded) {
  EXPECT_TRUE(match(R"({"type": "order.paid", "data.one": 1, "data.tags.0": "a"})"));
  EXPECT_FALSE(match(R"({"type": "order.paid", "data.one": 1, "data.tags.0": "b"})"));
}

TEST(Filter, Logical) {
  EXPECT_TRUE(match(R"({"$and": [{"type": "order.paid"}, {"data.one": 1}]})"));
  EXPECT_FALSE(match(R"({"$and": [{"type": "order.paid"}, {"data.one": 2}]})"));
  EXPECT_TRUE(match(R"({"$or": [{"type": "x"}, {"data.one": 1}]})"));
  EXPECT_FALSE(match(R"({"$or": [{"type": "x"}, {"data.one": 2}]})"));
  EXPECT_TRUE(match(R"({"$not": {"type": "x"}})"));
  EXPECT_FALSE(match(R"({"$not": {"type": "order.paid"}})"));
  EXPECT_FALSE(match(R"({"$not": {}})"));
  EXPECT_TRUE(match(R"({"$or": [{}]})"));
}

TEST(Filter, NestedLogical) {
  const std::string spec = R"({
    "type": {"$prefix": "order."},
    "$or": [
      {"data.currency": "USD", "data.amount": {"$gte": 10}},
      {"$and": [{"data.currency": "KRW"}, {"$not": {"data.amount": {"$lt": 100}}}]}
    ]
  })";
  EXPECT_TRUE(match(spec));
  json small = envelope();
  small["data"]["amount"] = 50;
  EXPECT_FALSE(match(spec, small));
  small["data"]["currency"] = "USD";
  EXPECT_TRUE(match(spec, small));
}

TEST(FilterParse, TopLevelMustBeObject) {
  for (const char* spec : {"[]", "1", "\"x\"", "null", "true"}) {
    const filter_error e = error_of(json::parse(spec));
    EXPECT_EQ(e.path, "") << spec;
    EXPECT_EQ(e.message, "filter must be a JSON object") << spec;
  }
}

TEST(FilterParse, FailedParseLeavesOutputUntouched) {
  filter f;
  ASSERT_FALSE(filter::parse(json::parse(R"({"type": "x"})"), f).has_value());
  ASSERT_TRUE(filter::parse(json::parse(R"({"type": {"$bad": 1}})"), f).has_value());
  EXPECT_FALSE(f.matches(envelope()));  // still the first filter
}

TEST(FilterParse, UnknownOperators) {
  expect_error(R"({"data.x": {"$regex": "a"}})", "data.x.$regex", "unknown operator $regex");
  expect_error(R"({"$nor": []})", "$nor", "unknown operator $nor");
  expect_error(R"({"$gte": 1})", "$gte", "$gte must be used on a path");
  expect_error(R"({"data.x": {"$or": []}})", "data.x.$or", "$or is not allowed on a path");
}

TEST(FilterParse, MixedKeys) {
  expect_error(R"({"data.x": {"$gt": 1, "a": 2}})", "data.x", "mixes operators and plain keys");
}

TEST(FilterParse, OperandTypes) {
  expect_error(R"({"data.amount": {"$gte": true}})", "data.amount.$gte",
               "$gte needs a number or a string");
  expect_error(R"({"data.amount": {"$lt": [1]}})", "data.amount.$lt",
               "$lt needs a number or a string");
  expect_error(R"({"data.x": {"$in": 1}})", "data.x.$in", "$in needs an array");
  expect_error(R"({"data.x": {"$nin": {"a": 1}}})", "data.x.$nin", "$nin needs an array");
  expect_error(R"({"data.x": {"$exists": 1}})", "data.x.$exists", "$exists needs true or false");
  expect_error(R"({"data.x": {"$prefix": 1}})", "data.x.$prefix", "$prefix needs a string");
}

TEST(FilterParse, LogicalShapes) {
  expect_error(R"({"$and": []})", "$and", "must be a non-empty array of filter objects");
  expect_error(R"({"$or": {}})", "$or", "must be a non-empty array of filter objects");
  expect_error(R"({"$or": [{}, 1]})", "$or[1]", "must be a JSON object");
  expect_error(R"({"$not": [1]})", "$not", "must be a JSON object");
  expect_error(R"({"$or": [{}, {"data.x": {"$gte": null}}]})", "$or[1].data.x.$gte",
               "$gte needs a number or a string");
  expect_error(R"({"$not": {"$and": [{"a": {"$zz": 1}}]}})", "$not.$and[0].a.$zz",
               "unknown operator $zz");
}

TEST(FilterParse, BadPaths) {
  expect_error(R"({"": 1})", "", "invalid path: must not be empty");
  expect_error(R"({"data..x": 1})", "data..x", "invalid path: token 2 is empty");
  expect_error(R"({"data.x.": 1})", "data.x.", "invalid path: token 3 is empty");
  expect_error(R"({"$or": [{".x": 1}]})", "$or[0]..x", "invalid path: token 1 is empty");

  json spec = json::object();
  std::string sixteen = "a";
  for (int i = 1; i < 16; ++i) sixteen += ".a";
  spec[sixteen] = 1;
  filter f;
  EXPECT_FALSE(filter::parse(spec, f).has_value());
  spec[sixteen + ".a"] = 1;
  EXPECT_EQ(error_of(spec).message, "invalid path: more than 16 tokens");

  EXPECT_FALSE(filter::parse(json{{std::string(255, 'p'), 1}}, f).has_value());
  EXPECT_EQ(error_of(json{{std::string(256, 'p'), 1}}).message,
            "invalid path: longer than 255 bytes");
}

TEST(FilterParse, DepthLimit) {
  // Every $not adds a level; the top-level object is level 1.
  auto nested = [](int nots) {
    json spec = json{{"type", "x"}};
    for (int i = 0; i < nots; ++i) spec = json{{"$not", spec}};
    return spec;
  };
  filter f;
  EXPECT_FALSE(filter::parse(nested(15), f).has_value());
  const filter_error e = error_of(nested(16));
  EXPECT_EQ(e.message, "nested deeper than 16 levels");
  EXPECT_EQ(e.path.rfind("$not.$not.", 0), 0u) << e.path;

  // Literal values are bounded too, since comparing them recurses.
  json deep = 1;
  for (int i = 0; i < 17; ++i) deep = json::array({deep});
  const filter_error v = error_of(json{{"data.x", deep}});
  EXPECT_EQ(v.path, "data.x");
  EXPECT_EQ(v.message, "value nested deeper than 16 levels");
}

TEST(FilterParse, NodeLimit) {
  json ok = json::object();
  for (int i = 0; i < 255; ++i) ok["k" + std::to_string(i)] = i;  // 255 + the root = 256
  filter f;
  EXPECT_FALSE(filter::parse(ok, f).has_value());
  ok["k_one_more"] = 0;
  EXPECT_EQ(error_of(ok).message, "more than 256 nodes");
}

TEST(FilterParse, InSizeLimit) {
  json values = json::array();
  for (int i = 0; i < 1024; ++i) values.push_back(i);
  filter f;
  EXPECT_FALSE(filter::parse(json{{"data.x", {{"$in", values}}}}, f).has_value());
  values.push_back(1024);
  const filter_error e = error_of(json{{"data.x", {{"$nin", values}}}});
  EXPECT_EQ(e.path, "data.x.$nin");
  EXPECT_EQ(e.message, "$nin has more than 1024 values");
}

TEST(Filter, MovedFilterKeepsWorking) {
  filter a;
  ASSERT_FALSE(filter::parse(json::parse(R"({"type": "order.paid"})"), a).has_value());
  filter b(std::move(a));
  EXPECT_TRUE(b.matches(envelope()));
  filter c;
  c = std::move(b);
  EXPECT_FALSE(c.matches(json{{"type", "x"}}));
}

}  // namespace
}  // namespace psig::domain
