#pragma once
// Standard Webhooks v1 signing (https://www.standardwebhooks.com):
//   webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>
// where key = base64-decoded part after "whsec_". Several signatures are space-separated
// (during a secret rotation both the new and the previous secret sign).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace psig::domain {

// "v1,<base64>" for one secret; nullopt when the secret is not "whsec_" + valid base64.
std::optional<std::string> sign_webhook(std::string_view secret, std::string_view msg_id,
                                        std::int64_t timestamp, std::string_view body);

// The header value for all the given secrets, space-separated, skipping invalid ones.
std::string signature_header(const std::vector<std::string>& secrets, std::string_view msg_id,
                             std::int64_t timestamp, std::string_view body);

// Receiver-side check (used by tests and documented for receivers): true when any "v1,"
// signature in `header` matches `secret`, compared in constant time, and |now - timestamp|
// <= tolerance_seconds.
bool verify_webhook(std::string_view secret, std::string_view msg_id, std::int64_t timestamp,
                    std::string_view body, std::string_view header, std::int64_t now,
                    std::int64_t tolerance_seconds = 300);

}  // namespace psig::domain
