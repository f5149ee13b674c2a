#include "psig/domain/url.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace psig::domain {
namespace {

http_url parse_ok(std::string_view text) {
  auto result = parse_http_url(text);
  if (const auto* error = std::get_if<std::string>(&result)) {
    ADD_FAILURE() << text << ": " << *error;
    return {};
  }
  return std::get<http_url>(std::move(result));
}

bool rejected(std::string_view text) {
  return std::holds_alternative<std::string>(parse_http_url(text));
}

std::string reason(std::string_view text) {
  auto result = parse_http_url(text);
  const auto* error = std::get_if<std::string>(&result);
  return error ? *error : std::string();
}

TEST(Url, HttpsWithDefaults) {
  const auto url = parse_ok("https://example.com");
  EXPECT_EQ(url.scheme, "https");
  EXPECT_EQ(url.host, "example.com");
  EXPECT_EQ(url.port, 443);
  EXPECT_EQ(url.target, "/");
  EXPECT_FALSE(url.ipv6_literal);
}

TEST(Url, HttpDefaultPort) {
  const auto url = parse_ok("http://example.com/");
  EXPECT_EQ(url.scheme, "http");
  EXPECT_EQ(url.port, 80);
  EXPECT_EQ(url.target, "/");
}

TEST(Url, ExplicitPortPathAndQuery) {
  const auto url = parse_ok("http://hooks.example.com:8080/a/b%20c?x=1&y=two");
  EXPECT_EQ(url.host, "hooks.example.com");
  EXPECT_EQ(url.port, 8080);
  EXPECT_EQ(url.target, "/a/b%20c?x=1&y=two");
}

TEST(Url, QueryWithoutPathGetsSlash) {
  const auto url = parse_ok("https://example.com?a=b");
  EXPECT_EQ(url.target, "/?a=b");
  EXPECT_EQ(url.port, 443);
}

TEST(Url, SchemeAndHostAreLowerCasedButPathIsNot) {
  const auto url = parse_ok("HTTPS://Example.COM:9443/Path/To?Q=V");
  EXPECT_EQ(url.scheme, "https");
  EXPECT_EQ(url.host, "example.com");
  EXPECT_EQ(url.port, 9443);
  EXPECT_EQ(url.target, "/Path/To?Q=V");
}

TEST(Url, PortBounds) {
  EXPECT_EQ(parse_ok("http://h:1/").port, 1);
  EXPECT_EQ(parse_ok("http://h:65535/").port, 65535);
  EXPECT_EQ(parse_ok("https://h:80").port, 80);
}

TEST(Url, Ipv4Literal) {
  const auto url = parse_ok("http://127.0.0.1:3000/hook");
  EXPECT_EQ(url.host, "127.0.0.1");
  EXPECT_EQ(url.port, 3000);
  EXPECT_FALSE(url.ipv6_literal);
}

TEST(Url, Ipv6Literals) {
  const auto loopback = parse_ok("http://[::1]/x");
  EXPECT_EQ(loopback.host, "::1");
  EXPECT_TRUE(loopback.ipv6_literal);
  EXPECT_EQ(loopback.port, 80);

  const auto full = parse_ok("https://[2001:DB8::A:1]:8443?q");
  EXPECT_EQ(full.host, "2001:db8::a:1");
  EXPECT_TRUE(full.ipv6_literal);
  EXPECT_EQ(full.port, 8443);
  EXPECT_EQ(full.target, "/?q");

  EXPECT_TRUE(parse_ok("http://[::ffff:10.0.0.1]/").ipv6_literal);
}

TEST(Url, HostCharacters) {
  EXPECT_EQ(parse_ok("http://my-host_1.internal./").host, "my-host_1.internal.");
  EXPECT_EQ(parse_ok("http://localhost:8080").host, "localhost");
  EXPECT_TRUE(rejected("http://exa%6dple.com/"));
  EXPECT_TRUE(rejected("http://a..b/"));
  EXPECT_TRUE(rejected("http://.a/"));
  EXPECT_TRUE(rejected("http://a!b/"));
  EXPECT_TRUE(rejected("http://" + std::string(64, 'a') + ".com/"));
}

TEST(Url, RejectsOtherSchemes) {
  for (const char* text : {"ftp://example.com/", "ws://example.com/", "file:///etc/passwd",
                           "httpx://example.com/", "example.com/path", "//example.com/",
                           "http:/example.com", "http:example.com", "javascript:alert(1)"}) {
    EXPECT_TRUE(rejected(text)) << text;
  }
  EXPECT_EQ(reason("ftp://example.com/"), "scheme must be http or https");
}

TEST(Url, RejectsUserinfo) {
  EXPECT_EQ(reason("http://u:p@h/"), "userinfo is not allowed");
  EXPECT_TRUE(rejected("http://u@h/"));
  EXPECT_TRUE(rejected("https://@h/"));
  EXPECT_TRUE(rejected("http://evil.com\\@good.com/"));
  // An '@' after the authority is part of the path or query, not userinfo.
  EXPECT_EQ(parse_ok("http://h/a@b?c=d@e").target, "/a@b?c=d@e");
}

TEST(Url, RejectsEmptyHost) {
  for (const char* text : {"http://", "http:///", "http://:80/", "https://?q", "http://[]/"}) {
    EXPECT_TRUE(rejected(text)) << text;
  }
}

TEST(Url, RejectsBadPorts) {
  for (const char* text : {"http://h:0/", "http://h:65536/", "http://h:99999/", "http://h:123456/",
                           "http://h:/", "http://h:8o/", "http://h:-1/", "http://h:+80/",
                           "http://h:80:80/", "http://[::1]:/", "http://[::1]:x/"}) {
    EXPECT_TRUE(rejected(text)) << text;
  }
}

TEST(Url, RejectsBadIpv6) {
  for (const char* text :
       {"http://[::1/", "http://::1]/", "http://[::1]]/", "http://[[::1]/", "http://[::1]x/",
        "http://[gggg::1]/", "http://[1.2.3.4]/", "http://[fe80::1%25eth0]/", "http://::1/"}) {
    EXPECT_TRUE(rejected(text)) << text;
  }
}

TEST(Url, RejectsFragments) {
  EXPECT_EQ(reason("https://example.com/path#frag"), "fragment is not allowed");
  EXPECT_TRUE(rejected("https://example.com#"));
}

TEST(Url, RejectsWhitespaceAndControlCharacters) {
  std::vector<std::string> bad = {"http://exa mple.com/",
                                  "http://example.com/a b",
                                  " http://example.com/",
                                  "http://example.com/\t",
                                  "http://example.com/\r\nX-Injected: 1",
                                  "http://example.com/\x7f",
                                  "http://example.com/caf\xc3\xa9"};
  bad.push_back(std::string("http://example.com/\0", 20));
  for (const auto& text : bad) EXPECT_TRUE(rejected(text)) << text;
}

TEST(Url, RejectsBadPercentEncoding) {
  EXPECT_TRUE(rejected("http://h/%"));
  EXPECT_TRUE(rejected("http://h/%4"));
  EXPECT_TRUE(rejected("http://h/%zz"));
  EXPECT_EQ(parse_ok("http://h/%4a%4B").target, "/%4a%4B");
}

TEST(Url, LengthLimit) {
  const std::string base = "https://example.com/";
  const std::string at_limit = base + std::string(2048 - base.size(), 'a');
  EXPECT_EQ(parse_ok(at_limit).target.size(), 2048 - base.size() + 1);
  EXPECT_TRUE(rejected(at_limit + "a"));
  EXPECT_TRUE(rejected(""));
}

}  // namespace
}  // namespace psig::domain
