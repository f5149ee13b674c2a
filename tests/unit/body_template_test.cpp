#include "psig/domain/body_template.hpp"

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace psig::domain {
namespace {

using json = nlohmann::json;

const json& envelope() {
  static const json env = json::parse(R"({
    "id": "evt_1", "type": "chat.message.created", "subject": null,
    "data": {
      "title": "Hello", "count": 3, "price": 9.5, "urgent": true,
      "user": {"name": "Kim", "tags": ["a", "b"]},
      "items": [{"sku": "X1"}, {"sku": "Y2"}]
    }
  })");
  return env;
}

json render(const std::string& tmpl) {
  const json t = json::parse(tmpl);
  EXPECT_EQ(validate_template(t), std::nullopt) << tmpl;
  return render_template(t, envelope());
}

TEST(BodyTemplate, WholeStringPlaceholderKeepsType) {
  EXPECT_EQ(render(R"({"n": "{{data.count}}"})"), json::parse(R"({"n": 3})"));
  EXPECT_EQ(render(R"({"p": "{{data.price}}"})"), json::parse(R"({"p": 9.5})"));
  EXPECT_EQ(render(R"({"u": "{{data.urgent}}"})"), json::parse(R"({"u": true})"));
  EXPECT_EQ(render(R"({"s": "{{subject}}"})"), json::parse(R"({"s": null})"));
  EXPECT_EQ(render(R"({"user": "{{data.user}}"})"),
            json::parse(R"({"user": {"name": "Kim", "tags": ["a", "b"]}})"));
  EXPECT_EQ(render(R"({"t": "{{data.title}}"})"), json::parse(R"({"t": "Hello"})"));
  EXPECT_EQ(render(R"("{{data.user.tags}}")"), json::parse(R"(["a", "b"])"));
}

TEST(BodyTemplate, SpacesInsideBraces) {
  EXPECT_EQ(render(R"({"n": "{{ data.count }}"})"), json::parse(R"({"n": 3})"));
  EXPECT_EQ(render(R"({"n": "{{   type}}"})"), json::parse(R"({"n": "chat.message.created"})"));
  EXPECT_EQ(render(R"({"n": "x {{ data.title\t}} y"})"), json::parse(R"({"n": "x Hello y"})"));
}

TEST(BodyTemplate, InterpolationInsideText) {
  EXPECT_EQ(render(R"({"t": "New: {{data.title}}!"})"), json::parse(R"({"t": "New: Hello!"})"));
  EXPECT_EQ(render(R"({"t": "{{data.count}} items at {{data.price}}"})"),
            json::parse(R"({"t": "3 items at 9.5"})"));
  EXPECT_EQ(render(R"({"t": "u={{data.user}}"})"),
            json::parse(R"({"t": "u={\"name\":\"Kim\",\"tags\":[\"a\",\"b\"]}"})"));
  EXPECT_EQ(render(R"({"t": "{{data.urgent}}/{{subject}}"})"),
            json::parse(R"({"t": "true/null"})"));
  EXPECT_EQ(render(R"({"t": "{{data.title}}{{data.title}}"})"),
            json::parse(R"({"t": "HelloHello"})"));
  // A string with surrounding text around a single placeholder is text, not the raw value.
  EXPECT_EQ(render(R"({"t": " {{data.count}}"})"), json::parse(R"({"t": " 3"})"));
}

TEST(BodyTemplate, MissingPaths) {
  EXPECT_EQ(render(R"({"x": "{{data.nothing}}"})"), json::parse(R"({"x": null})"));
  EXPECT_EQ(render(R"({"x": "a{{data.nothing}}b"})"), json::parse(R"({"x": "ab"})"));
  EXPECT_EQ(render(R"({"x": "{{data.title.deeper}}"})"), json::parse(R"({"x": null})"));
  EXPECT_EQ(render(R"({"x": "{{data.items.5.sku}}"})"), json::parse(R"({"x": null})"));
}

TEST(BodyTemplate, ArrayIndexPaths) {
  EXPECT_EQ(render(R"({"x": "{{data.items.1.sku}}"})"), json::parse(R"({"x": "Y2"})"));
  EXPECT_EQ(render(R"({"x": "first={{data.user.tags.0}}"})"), json::parse(R"({"x": "first=a"})"));
}

TEST(BodyTemplate, NestedObjectsAndArrays) {
  const json out = render(R"({
    "notification": {"title": "{{data.title}}", "badge": "{{data.count}}"},
    "to": ["{{data.user.name}}", "static", 7, {"k": "{{ id }}"}],
    "{{data.title}}": "keys are not templated",
    "flag": false, "none": null
  })");
  EXPECT_EQ(out, json::parse(R"({
    "notification": {"title": "Hello", "badge": 3},
    "to": ["Kim", "static", 7, {"k": "evt_1"}],
    "{{data.title}}": "keys are not templated",
    "flag": false, "none": null
  })"));
}

TEST(BodyTemplate, TextWithoutPlaceholdersIsUnchanged) {
  EXPECT_EQ(render(R"({"t": "plain", "b": "}} and { not a placeholder"})"),
            json::parse(R"({"t": "plain", "b": "}} and { not a placeholder"})"));
  EXPECT_EQ(render(R"({"t": ""})"), json::parse(R"({"t": ""})"));
  EXPECT_EQ(render("42"), json(42));
}

TEST(BodyTemplate, ValidationErrors) {
  EXPECT_EQ(validate_template(json::parse(R"({"title": "Hi {{data.x"})")),
            "body.title: unclosed {{");
  EXPECT_EQ(validate_template(json::parse(R"({"x": "{{a..b}}"})")), "body.x: invalid path 'a..b'");
  EXPECT_EQ(validate_template(json::parse(R"({"x": "{{ .a }}"})")), "body.x: invalid path '.a'");
  EXPECT_EQ(validate_template(json::parse(R"({"x": "{{a.}}"})")), "body.x: invalid path 'a.'");
  EXPECT_EQ(validate_template(json::parse(R"({"x": "{{ a b }}"})")), "body.x: invalid path 'a b'");
  EXPECT_EQ(validate_template(json::parse(R"({"x": "{{{a}}}"})")), "body.x: invalid path '{a'");
  EXPECT_EQ(validate_template(json::parse(R"({"x": "{{  }}"})")), "body.x: empty placeholder");
  EXPECT_EQ(validate_template(json::parse(R"({"a": {"b": [1, {"c": "{{"}]}})")),
            "body.a.b[1].c: unclosed {{");
  EXPECT_EQ(validate_template(json::parse(R"(["ok", "{{x}}", "{{"])")), "body[2]: unclosed {{");
  EXPECT_EQ(validate_template(json::parse(R"("{{")")), "body: unclosed {{");
}

TEST(BodyTemplate, ValidationLimits) {
  std::string path = "a";
  for (int i = 1; i < 16; ++i) path += ".a";
  EXPECT_EQ(validate_template(json{{"x", "{{" + path + "}}"}}), std::nullopt);
  EXPECT_EQ(validate_template(json{{"x", "{{" + path + ".a}}"}}),
            "body.x: invalid path '" + path + ".a'");
  EXPECT_EQ(validate_template(json{{"x", "{{" + std::string(255, 'p') + "}}"}}), std::nullopt);
  EXPECT_TRUE(validate_template(json{{"x", "{{" + std::string(256, 'p') + "}}"}}).has_value());

  json many = json::array();
  for (int i = 0; i < 256; ++i) many.push_back("{{data.title}}");
  EXPECT_EQ(validate_template(many), std::nullopt);
  many.push_back("{{data.title}}");
  EXPECT_EQ(validate_template(many), "body[256]: more than 256 placeholders");

  EXPECT_EQ(validate_template(json{{"big", std::string(64 * 1024, 'x')}}),
            "body: longer than 65536 bytes");
  EXPECT_EQ(validate_template(json{{"big", std::string(60 * 1024, 'x')}}), std::nullopt);

  json deep = "leaf";
  for (int i = 0; i < 40; ++i) deep = json::array({deep});
  const auto e = validate_template(deep);
  ASSERT_TRUE(e.has_value());
  EXPECT_NE(e->find("nested deeper than 32 levels"), std::string::npos) << *e;
}

TEST(BodyTemplate, RenderingUnvalidatedTemplatesDoesNotThrow) {
  EXPECT_EQ(render_template(json("x {{data.title"), envelope()), json("x {{data.title"));
  EXPECT_EQ(render_template(json("{{a..b}}"), envelope()), json(nullptr));
  EXPECT_EQ(render_template(json("{{}}"), envelope()), json(nullptr));
  json bad_utf8 = envelope();
  bad_utf8["data"]["blob"] = {{"s", std::string("\xff\xfe")}};
  EXPECT_NO_THROW(render_template(json("v={{data.blob}}"), bad_utf8));
}

}  // namespace
}  // namespace psig::domain
