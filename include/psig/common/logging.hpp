#pragma once
#include <string>

namespace psig::common {

// Sets spdlog's default logger to stderr lines, "text" or "json" (one JSON object per line,
// the message escaped), at `level` ("trace".."critical"). Call once at start-up.
void init_logging(const std::string& format, const std::string& level, const std::string& node_id);

}  // namespace psig::common
