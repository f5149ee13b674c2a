#include "psig/http/message.hpp"

#include <stdexcept>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace psig::http {
namespace {

using json = nlohmann::json;

request with_query(std::string query) {
  request req;
  req.query = std::move(query);
  return req;
}

TEST(Message, QueryParamDecodes) {
  const request req = with_query("status=failed&event_type=order.paid&q=two+words&x=%41%2b%20");
  EXPECT_EQ(req.query_param("status"), "failed");
  EXPECT_EQ(req.query_param("event_type"), "order.paid");
  EXPECT_EQ(req.query_param("q"), "two words");
  EXPECT_EQ(req.query_param("x"), "A+ ");
}

TEST(Message, QueryParamFirstOccurrenceWins) {
  const request req = with_query("limit=10&limit=20");
  EXPECT_EQ(req.query_param("limit"), "10");
}

TEST(Message, QueryParamMissingAndEmpty) {
  const request req = with_query("a=&flag&&b=1");
  EXPECT_EQ(req.query_param("missing"), std::nullopt);
  EXPECT_EQ(req.query_param("a"), "");
  EXPECT_EQ(req.query_param("flag"), "");
  EXPECT_EQ(req.query_param("b"), "1");
  EXPECT_EQ(with_query("").query_param("a"), std::nullopt);
  // A name is matched whole, not as a prefix.
  EXPECT_EQ(with_query("ab=1").query_param("a"), std::nullopt);
}

TEST(Message, QueryParamNamesAreDecodedToo) {
  const request req = with_query("event%5Ftype=x&my+key=y&c=a=b");
  EXPECT_EQ(req.query_param("event_type"), "x");
  EXPECT_EQ(req.query_param("my key"), "y");
  EXPECT_EQ(req.query_param("c"), "a=b");  // only the first '=' separates
}

TEST(Message, PercentDecode) {
  EXPECT_EQ(percent_decode("a%2Fb%2fc", false), "a/b/c");
  EXPECT_EQ(percent_decode("a+b", false), "a+b");
  EXPECT_EQ(percent_decode("a+b", true), "a b");
  EXPECT_EQ(percent_decode("%e2%82%ac", false), "\xe2\x82\xac");
  // Malformed escapes are kept as they are.
  EXPECT_EQ(percent_decode("100%", false), "100%");
  EXPECT_EQ(percent_decode("%4", false), "%4");
  EXPECT_EQ(percent_decode("%zz", false), "%zz");
  EXPECT_EQ(percent_decode("%%41", false), "%A");
  EXPECT_EQ(percent_decode("", true), "");
  EXPECT_EQ(percent_decode("%00", false), std::string(1, '\0'));
}

TEST(Message, HeaderLookup) {
  request req;
  req.headers = {{"content-type", "application/json"},
                 {"idempotency-key", "k1"},
                 {"x-dup", "first"},
                 {"x-dup", "second"},
                 {"x-empty", ""}};
  EXPECT_EQ(req.header("content-type"), "application/json");
  EXPECT_EQ(req.header("idempotency-key"), "k1");
  EXPECT_EQ(req.header("x-dup"), "first");
  EXPECT_EQ(req.header("x-empty"), "");
  EXPECT_EQ(req.header("authorization"), std::nullopt);
  // Names are stored lower-cased, and callers ask in lower case.
  EXPECT_EQ(req.header("Content-Type"), std::nullopt);
}

TEST(Message, PathParam) {
  request req;
  req.params = {{"project", "prj_1"}};
  EXPECT_EQ(req.param("project"), "prj_1");
  EXPECT_THROW(req.param("missing"), std::out_of_range);
}

TEST(Message, ErrorResponseShape) {
  request req;
  req.request_id = "req_123";
  const response res = error_response(req, 400, "validation_failed", "type is required");
  EXPECT_EQ(res.status, 400);
  EXPECT_EQ(res.content_type, "application/json");
  const json body = json::parse(res.body);
  EXPECT_EQ(body, json::parse(R"({
    "error": {"code": "validation_failed", "message": "type is required", "details": []},
    "request_id": "req_123"
  })"));
}

TEST(Message, ErrorResponseWithDetails) {
  request req;
  req.request_id = "req_9";
  const json details = json::array({{{"field", "type"}, {"message", "is required"}}});
  const response res = error_response(req, 422, "invalid", "bad", details);
  EXPECT_EQ(res.status, 422);
  const json body = json::parse(res.body);
  EXPECT_EQ(body["error"]["details"], details);
  EXPECT_EQ(body["request_id"], "req_9");
}

TEST(Message, JsonResponse) {
  const response res = json_response(201, {{"id", "prj_1"}, {"n", 2}});
  EXPECT_EQ(res.status, 201);
  EXPECT_EQ(res.content_type, "application/json");
  EXPECT_EQ(res.body, R"({"id":"prj_1","n":2})");
  EXPECT_TRUE(res.headers.empty());
}

TEST(Message, JsonResponseNeverThrowsOnInvalidUtf8) {
  const json body = {{"echo", std::string("bad \xff\xfe bytes")}, {std::string("key\xc3"), "v"}};
  response res;
  EXPECT_NO_THROW(res = json_response(200, body));
  EXPECT_EQ(res.status, 200);
  // The invalid bytes become U+FFFD, so the body is valid JSON (and valid UTF-8) again.
  const json back = json::parse(res.body);
  EXPECT_EQ(back["echo"], "bad \xef\xbf\xbd\xef\xbf\xbd bytes");

  request req;
  req.request_id = "r";
  EXPECT_NO_THROW(error_response(req, 400, "bad", std::string("msg \xff")));
  EXPECT_NO_THROW(json::parse(error_response(req, 400, "bad", std::string("msg \xff")).body));
}

TEST(Message, EmptyResponse) {
  const response res = empty_response(204);
  EXPECT_EQ(res.status, 204);
  EXPECT_TRUE(res.body.empty());
  EXPECT_TRUE(res.content_type.empty());
}

}  // namespace
}  // namespace psig::http
