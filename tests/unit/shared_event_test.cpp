// The push frame of the WebSocket gateway: built once per (event, pattern), the stored envelope
// spliced in byte for byte, with the offset of a durable event or the mark of an ephemeral one.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ws/frame.hpp"
#include "ws/session.hpp"

namespace psig::ws {
namespace {

bus::ws_event event_at(std::uint64_t offset) {
  bus::ws_event e;
  e.project_id = "prj_1";
  e.consumer_id = "con_1";
  e.type = "chat.message.created";
  e.offset = offset;
  e.envelope = R"({"id":"evt_1","type":"chat.message.created","data":{"b":1,"a":2}})";
  return e;
}

TEST(shared_event_test, durable_push_carries_the_offset_and_the_exact_envelope) {
  shared_event ev(event_at(1042));
  const auto frame = ev.frame_for("chat.message.*");
  EXPECT_EQ(frame_payload(*frame), R"({"push":{"pattern":"chat.message.*","event":{"id":"evt_1","type":"chat.message.created","data":{"b":1,"a":2}},"offset":1042}})");
  EXPECT_EQ(ev.frame_for("chat.message.*").get(), frame.get()) << "built once, then shared";
  EXPECT_NE(ev.frame_for("chat.>").get(), frame.get()) << "one frame per pattern";
}

TEST(shared_event_test, ephemeral_push_says_so_instead_of_an_offset) {
  shared_event ev(event_at(0));
  const auto j = nlohmann::json::parse(frame_payload(*ev.frame_for("chat.>")));
  EXPECT_EQ(j["push"]["ephemeral"], true);
  EXPECT_FALSE(j["push"].contains("offset"));
  EXPECT_EQ(j["push"]["pattern"], "chat.>");
}

TEST(shared_event_test, pattern_is_escaped_as_json) {
  shared_event ev(event_at(7));
  const auto j = nlohmann::json::parse(frame_payload(*ev.frame_for("a\"b")), nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["push"]["pattern"], "a\"b");
}

// RFC 6455 §5.2: FIN + text opcode, unmasked, and the three length forms at their edges.
TEST(text_frame_test, header_uses_the_shortest_length_form) {
  for (const std::size_t n : {0UL, 1UL, 125UL, 126UL, 65535UL, 65536UL, 70000UL}) {
    const std::string payload(n, 'x');
    const std::string frame = text_frame(payload);
    ASSERT_GE(frame.size(), 2U);
    EXPECT_EQ(static_cast<unsigned char>(frame[0]), 0x81) << n;
    const unsigned len7 = static_cast<unsigned char>(frame[1]);
    EXPECT_EQ(len7 & 0x80U, 0U) << "a server never masks";
    if (n < 126) {
      EXPECT_EQ(len7, n);
      EXPECT_EQ(frame.size(), n + 2);
    } else if (n <= 65535) {
      EXPECT_EQ(len7, 126U);
      EXPECT_EQ((static_cast<unsigned char>(frame[2]) << 8) | static_cast<unsigned char>(frame[3]), n);
      EXPECT_EQ(frame.size(), n + 4);
    } else {
      EXPECT_EQ(len7, 127U);
      std::uint64_t len = 0;
      for (int i = 2; i < 10; ++i) len = (len << 8) | static_cast<unsigned char>(frame[i]);
      EXPECT_EQ(len, n);
      EXPECT_EQ(frame.size(), n + 10);
    }
    EXPECT_EQ(frame_payload(frame), payload);
  }
}

}  // namespace
}  // namespace psig::ws
