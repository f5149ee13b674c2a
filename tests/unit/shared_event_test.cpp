// The push frame of the WebSocket gateway: built once per (event, pattern), the stored envelope
// spliced in byte for byte, with the offset of a durable event or the mark of an ephemeral one.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

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
  EXPECT_EQ(*frame, R"({"push":{"pattern":"chat.message.*","event":{"id":"evt_1","type":"chat.message.created","data":{"b":1,"a":2}},"offset":1042}})");
  EXPECT_EQ(ev.frame_for("chat.message.*").get(), frame.get()) << "built once, then shared";
  EXPECT_NE(ev.frame_for("chat.>").get(), frame.get()) << "one frame per pattern";
}

TEST(shared_event_test, ephemeral_push_says_so_instead_of_an_offset) {
  shared_event ev(event_at(0));
  const auto j = nlohmann::json::parse(*ev.frame_for("chat.>"));
  EXPECT_EQ(j["push"]["ephemeral"], true);
  EXPECT_FALSE(j["push"].contains("offset"));
  EXPECT_EQ(j["push"]["pattern"], "chat.>");
}

TEST(shared_event_test, pattern_is_escaped_as_json) {
  shared_event ev(event_at(7));
  const auto j = nlohmann::json::parse(*ev.frame_for("a\"b"), nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["push"]["pattern"], "a\"b");
}

}  // namespace
}  // namespace psig::ws
