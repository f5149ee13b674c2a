#include "psig/domain/envelope.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "psig/common/time.hpp"

namespace psig::domain {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

const auto now = *common::parse_rfc3339("2026-03-01T12:00:00Z");
constexpr const char* consumer_a = "con_01ARZ3NDEKTSV4RRFFQ69G5FAV";
constexpr const char* consumer_b = "con_01JD2X5M8Q0000000000000000";

struct outcome {
  std::optional<event_request> req;
  std::vector<field_error> errors;
};

outcome parse(const json& body) {
  outcome out;
  out.req = parse_event_request(body, now, out.errors);
  return out;
}

json minimal() {
  return {{"type", "chat.message.created"}, {"data", {{"text", "hi"}}}};
}

json with(std::string_view key, json value) {
  json body = minimal();
  body[std::string(key)] = std::move(value);
  return body;
}

// The single error a body produces, as "field: message", or a description of what went wrong.
std::string only_error(const json& body) {
  const auto out = parse(body);
  if (out.req) return "(accepted)";
  if (out.errors.size() != 1) return "(" + std::to_string(out.errors.size()) + " errors)";
  return out.errors[0].field + ": " + out.errors[0].message;
}

TEST(Envelope, MinimalIsValid) {
  const auto out = parse(minimal());
  ASSERT_TRUE(out.req) << (out.errors.empty() ? "" : out.errors[0].field);
  EXPECT_TRUE(out.errors.empty());
  EXPECT_EQ(out.req->type, "chat.message.created");
  EXPECT_EQ(out.req->data, json({{"text", "hi"}}));
  EXPECT_FALSE(out.req->source);
  EXPECT_FALSE(out.req->subject);
  EXPECT_FALSE(out.req->idempotency_key);
  EXPECT_FALSE(out.req->deliver_at);
  EXPECT_TRUE(out.req->to_users.empty());
  EXPECT_TRUE(out.req->consumers.empty());
}

TEST(Envelope, MaximalIsValid) {
  const json body = {{"type", "order.paid"},
                     {"data", {{"amount", 1200}, {"currency", "KRW"}}},
                     {"source", "billing"},
                     {"subject", "order/42"},
                     {"id", "order-42-paid"},
                     {"deliver_at", "2026-03-02T12:00:00Z"},
                     {"to", {{"users", {"u1", "u2"}}}},
                     {"consumers", {consumer_a, consumer_b}}};
  const auto out = parse(body);
  ASSERT_TRUE(out.req);
  EXPECT_EQ(out.req->source, "billing");
  EXPECT_EQ(out.req->subject, "order/42");
  EXPECT_EQ(out.req->idempotency_key, "order-42-paid");
  EXPECT_EQ(out.req->deliver_at, now + 24h);
  EXPECT_EQ(out.req->to_users, (std::vector<std::string>{"u1", "u2"}));
  EXPECT_EQ(out.req->consumers, (std::vector<std::string>{consumer_a, consumer_b}));
}

TEST(Envelope, OptionalFieldsMayBeNull) {
  json body = minimal();
  for (const char* key : {"source", "subject", "id", "deliver_at", "delay", "to", "consumers"}) {
    body[key] = nullptr;
  }
  const auto out = parse(body);
  ASSERT_TRUE(out.req);
  EXPECT_FALSE(out.req->source);
  EXPECT_FALSE(out.req->deliver_at);
}

TEST(Envelope, NotAnObject) {
  EXPECT_EQ(only_error(json::array()), "body: must be a JSON object");
  EXPECT_EQ(only_error("text"), "body: must be a JSON object");
  EXPECT_EQ(only_error(nullptr), "body: must be a JSON object");
}

TEST(Envelope, TypeErrors) {
  json body = minimal();
  body.erase("type");
  EXPECT_EQ(only_error(body), "type: is required");
  EXPECT_EQ(only_error(with("type", 5)), "type: must be a string");
  EXPECT_EQ(only_error(with("type", "")), "type: must not be empty");
  EXPECT_EQ(only_error(with("type", "chat..created")), "type: token 2 is empty");
  EXPECT_EQ(only_error(with("type", "chat.*")),
            "type: token 2 is a wildcard, not allowed in an event type");
  EXPECT_EQ(only_error(with("type", "chat message")), "type: token 1 has an invalid character");
  EXPECT_EQ(only_error(with("type", std::string(256, 'a'))), "type: longer than 255 bytes");
}

TEST(Envelope, DataIsRequiredButMayBeNull) {
  json body = minimal();
  body.erase("data");
  EXPECT_EQ(only_error(body), "data: is required");
  const auto out = parse(with("data", nullptr));
  ASSERT_TRUE(out.req);
  EXPECT_TRUE(out.req->data.is_null());
  EXPECT_TRUE(parse(with("data", json::array({1, 2}))).req);
  EXPECT_TRUE(parse(with("data", "just text")).req);
}

TEST(Envelope, SourceAndSubject) {
  for (const char* key : {"source", "subject"}) {
    const std::string name = key;
    EXPECT_EQ(only_error(with(key, 7)), name + ": must be a string");
    EXPECT_EQ(only_error(with(key, json::object())), name + ": must be a string");
    EXPECT_EQ(only_error(with(key, std::string(256, 's'))), name + ": must be at most 255 bytes");
    EXPECT_TRUE(parse(with(key, std::string(255, 's'))).req);
  }
}

TEST(Envelope, IdempotencyKey) {
  EXPECT_EQ(only_error(with("id", "")), "id: must not be empty");
  EXPECT_EQ(only_error(with("id", 42)), "id: must be a string");
  EXPECT_EQ(only_error(with("id", std::string(256, 'k'))), "id: must be at most 255 bytes");
  EXPECT_EQ(only_error(with("id", "a\nb")), "id: must be printable ASCII");
  EXPECT_EQ(only_error(with("id", std::string("a\0b", 3))), "id: must be printable ASCII");
  EXPECT_EQ(only_error(with("id", "a\x7f")), "id: must be printable ASCII");
  EXPECT_EQ(only_error(with("id", "caf\xc3\xa9")), "id: must be printable ASCII");
  const auto out = parse(with("id", std::string(255, 'k')));
  ASSERT_TRUE(out.req);
  EXPECT_EQ(out.req->idempotency_key, std::string(255, 'k'));
}

TEST(Envelope, DeliverAt) {
  EXPECT_EQ(only_error(with("deliver_at", "tomorrow")), "deliver_at: must be an RFC 3339 time");
  EXPECT_EQ(only_error(with("deliver_at", "2026-03-02 12:00:00")),
            "deliver_at: must be an RFC 3339 time");
  EXPECT_EQ(only_error(with("deliver_at", 1772366400)), "deliver_at: must be an RFC 3339 time");
  EXPECT_EQ(only_error(with("deliver_at", "2026-03-31T12:00:01Z")),
            "deliver_at: must be at most 30 days ahead");
  EXPECT_EQ(only_error(with("deliver_at", "2100-01-01T00:00:00Z")),
            "deliver_at: must be at most 30 days ahead");
  // Beyond what the clock can hold (about 2262 with nanoseconds) the time itself is refused.
  EXPECT_FALSE(parse(with("deliver_at", "9999-12-31T23:59:59Z")).req);

  const auto edge = parse(with("deliver_at", "2026-03-31T12:00:00Z"));
  ASSERT_TRUE(edge.req);
  EXPECT_EQ(edge.req->deliver_at, now + std::chrono::days{30});
  const auto offset = parse(with("deliver_at", "2026-03-01T21:30:00+09:00"));
  ASSERT_TRUE(offset.req);
  EXPECT_EQ(offset.req->deliver_at, now + 30min);
  // A time in the past is accepted: it is simply due.
  const auto past = parse(with("deliver_at", "2020-01-01T00:00:00Z"));
  ASSERT_TRUE(past.req);
  EXPECT_LT(*past.req->deliver_at, now);
}

TEST(Envelope, DeliverAtAndDelayTogether) {
  json body = with("deliver_at", "2026-03-02T12:00:00Z");
  body["delay"] = "5m";
  EXPECT_EQ(only_error(body), "delay: cannot be combined with deliver_at");
}

TEST(Envelope, Delay) {
  const auto out = parse(with("delay", "1h30m"));
  ASSERT_TRUE(out.req);
  EXPECT_EQ(out.req->deliver_at, now + 90min);
  const auto month = parse(with("delay", "30d"));
  ASSERT_TRUE(month.req);
  EXPECT_EQ(month.req->deliver_at, now + std::chrono::days{30});

  const std::string malformed =
      "delay: must be a duration such as \"90s\", \"5m\", \"1h30m\" or \"2d\"";
  for (const char* bad : {"", "5", "m", "-5s", "0s", "5 m", "1.5h"}) {
    EXPECT_EQ(only_error(with("delay", bad)), malformed) << bad;
  }
  EXPECT_EQ(only_error(with("delay", 90)), malformed);
  EXPECT_EQ(only_error(with("delay", "31d")), "delay: must be at most 30 days");
  EXPECT_EQ(only_error(with("delay", "30d1s")), "delay: must be at most 30 days");
}

TEST(ParseDelay, Formats) {
  EXPECT_EQ(parse_delay("90s"), 90s);
  EXPECT_EQ(parse_delay("5m"), 5min);
  EXPECT_EQ(parse_delay("1h"), 1h);
  EXPECT_EQ(parse_delay("1h30m"), 90min);
  EXPECT_EQ(parse_delay("2d"), std::chrono::days{2});
  EXPECT_EQ(parse_delay("1d2h3m4s"), 93784s);
  EXPECT_EQ(parse_delay("1h0m"), 1h);
  EXPECT_EQ(parse_delay("31d"), std::chrono::days{31});  // the 30-day bound is the envelope's
}

TEST(ParseDelay, Malformed) {
  for (const char* bad : {"", "5", "m", "-5s", "+5s", "0s", "0d0h", "5ms", "5M", "30m1h", "1h1h",
                          "s5", " 5s", "5s ", "1h 30m", "9999999999s", "5x"}) {
    EXPECT_FALSE(parse_delay(bad)) << bad;
  }
}

TEST(Envelope, ToUsers) {
  EXPECT_EQ(only_error(with("to", "u1")), "to: must be an object");
  EXPECT_EQ(only_error(with("to", {{"users", "u1"}})), "to.users: must be a list");
  EXPECT_EQ(only_error(with("to", {{"users", {"u1", 2}}})), "to.users[1]: must be a string");
  EXPECT_EQ(only_error(with("to", {{"users", {"u1", ""}}})), "to.users[1]: must be 1-255 bytes");
  EXPECT_EQ(only_error(with("to", {{"groups", {"g"}}})), "to.groups: is not a known field");

  json users = json::array();
  for (int i = 0; i < 1000; ++i) users.push_back("user-" + std::to_string(i));
  const auto full = parse(with("to", {{"users", users}}));
  ASSERT_TRUE(full.req);
  EXPECT_EQ(full.req->to_users.size(), 1000u);
  users.push_back("one-too-many");
  EXPECT_EQ(only_error(with("to", {{"users", users}})), "to.users: must have at most 1000 items");
}

TEST(Envelope, EveryBadUserIsNamed) {
  const auto out = parse(with("to", {{"users", {1, "ok", nullptr}}}));
  ASSERT_FALSE(out.req);
  ASSERT_EQ(out.errors.size(), 2u);
  EXPECT_EQ(out.errors[0].field, "to.users[0]");
  EXPECT_EQ(out.errors[1].field, "to.users[2]");
}

TEST(Envelope, Consumers) {
  EXPECT_EQ(only_error(with("consumers", consumer_a)), "consumers: must be a list");
  EXPECT_EQ(only_error(with("consumers", {consumer_a, "sub_01ARZ3NDEKTSV4RRFFQ69G5FAV"})),
            "consumers[1]: must be a consumer id (con_...)");
  EXPECT_EQ(only_error(with("consumers", {"con_123"})),
            "consumers[0]: must be a consumer id (con_...)");
  EXPECT_EQ(only_error(with("consumers", {7})), "consumers[0]: must be a consumer id (con_...)");

  json ids = json::array();
  for (int i = 0; i < 100; ++i) ids.push_back(consumer_a);
  EXPECT_TRUE(parse(with("consumers", ids)).req);
  ids.push_back(consumer_b);
  EXPECT_EQ(only_error(with("consumers", ids)), "consumers: must have at most 100 items");
}

TEST(Envelope, UnknownField) {
  EXPECT_EQ(only_error(with("priority", "high")), "priority: is not a known field");
  EXPECT_EQ(only_error(with("Type", "x")), "Type: is not a known field");
}

TEST(Envelope, ErrorsAreCollectedAndAppended) {
  std::vector<field_error> errors{{"earlier", "kept"}};
  const json body = {{"data", 1}, {"source", 2}, {"delay", "soon"}, {"extra", true}};
  EXPECT_FALSE(parse_event_request(body, now, errors));
  ASSERT_EQ(errors.size(), 5u);
  EXPECT_EQ(errors[0].field, "earlier");
  std::vector<std::string> fields;
  for (std::size_t i = 1; i < errors.size(); ++i) fields.push_back(errors[i].field);
  EXPECT_EQ(fields, (std::vector<std::string>{"extra", "type", "source", "delay"}));
}

TEST(Envelope, ErrorListIsBounded) {
  json body = minimal();
  for (int i = 0; i < 5000; ++i) body["unknown" + std::to_string(i)] = i;
  const auto out = parse(body);
  EXPECT_FALSE(out.req);
  EXPECT_EQ(out.errors.size(), 100u);
}

TEST(RenderEnvelope, ByteExact) {
  auto req = *parse(json::parse(R"({"type":"order.paid","data":{"b":[1,2.5,null],"a":"x\"y"},
                                    "source":"billing","subject":"order/42"})"))
                  .req;
  const auto created = *common::parse_rfc3339("2026-03-01T12:00:00.123Z");
  EXPECT_EQ(render_envelope("evt_01ARZ3NDEKTSV4RRFFQ69G5FAV", req, created),
            R"({"id":"evt_01ARZ3NDEKTSV4RRFFQ69G5FAV","type":"order.paid",)"
            R"("timestamp":"2026-03-01T12:00:00.123Z","source":"billing","subject":"order/42",)"
            R"("data":{"a":"x\"y","b":[1,2.5,null]}})");
}

TEST(RenderEnvelope, NullSourceAndSubject) {
  auto req = *parse(minimal()).req;
  EXPECT_EQ(render_envelope("evt_1", req, now),
            R"({"id":"evt_1","type":"chat.message.created","timestamp":"2026-03-01T12:00:00.000Z",)"
            R"("source":null,"subject":null,"data":{"text":"hi"}})");
}

TEST(RenderEnvelope, EscapesAndUnicode) {
  auto req = *parse(minimal()).req;
  req.source = "line\nbreak \xed\x95\x9c";
  req.data = nullptr;
  const std::string out = render_envelope("evt_1", req, now);
  EXPECT_NE(out.find(R"("source":"line\nbreak 한")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("data":null})"), std::string::npos) << out;
  EXPECT_EQ(json::parse(out)["source"], "line\nbreak \xed\x95\x9c");
}

TEST(RequestFingerprint, IgnoresKeyOrderButNotContent) {
  const auto a = json::parse(R"({"type":"a.b","data":{"x":1,"y":[1,2]},"id":"k"})");
  const auto b = json::parse(R"({"id":"k","data":{"y":[1,2],"x":1},"type":"a.b"})");
  const auto c = json::parse(R"({"id":"k","data":{"y":[2,1],"x":1},"type":"a.b"})");
  const auto d = json::parse(R"({"id":"k","data":{"y":[1,2],"x":"1"},"type":"a.b"})");
  EXPECT_EQ(request_fingerprint(a), request_fingerprint(b));
  EXPECT_NE(request_fingerprint(a), request_fingerprint(c));
  EXPECT_NE(request_fingerprint(a), request_fingerprint(d));
  EXPECT_EQ(request_fingerprint(a).size(), 64u);
}

}  // namespace
}  // namespace psig::domain
