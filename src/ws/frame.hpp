#pragma once
// Server-to-client WebSocket text frames (RFC 6455 §5.2: unmasked, unfragmented, no extension).
// A push is encoded once when its event arrives and the same bytes go to every session that
// receives it; a session writes all the frames it has queued in one gathered write.
#include <string>
#include <string_view>

namespace psig::ws {

std::string text_frame(std::string_view payload);

// The payload of a frame made by text_frame.
std::string_view frame_payload(std::string_view frame);

}  // namespace psig::ws
