#pragma once
#include <string_view>

namespace psig::common {

// nlohmann's parser recurses without a limit: untrusted JSON text is scanned first, and text
// nested deeper than `max_depth` objects/arrays is refused before it is parsed.
bool json_depth_within(std::string_view text, int max_depth);

}  // namespace psig::common
