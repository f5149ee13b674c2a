#include "psig/domain/webhook_signature.hpp"

#include <string>

#include "psig/common/crypto.hpp"

namespace psig::domain {
namespace {

constexpr std::string_view secret_prefix = "whsec_";
constexpr std::string_view version_prefix = "v1,";

// The base64 part of the v1 signature, without "v1,".
std::optional<std::string> signature_base64(std::string_view secret, std::string_view msg_id,
                                            std::int64_t timestamp, std::string_view body) {
  if (!secret.starts_with(secret_prefix)) return std::nullopt;
  const auto key = common::base64_decode(secret.substr(secret_prefix.size()));
  // An empty key would "sign" with a value anyone can compute.
  if (!key || key->empty()) return std::nullopt;
  std::string content;
  content.reserve(msg_id.size() + body.size() + 24);
  content += msg_id;
  content += '.';
  content += std::to_string(timestamp);
  content += '.';
  content += body;
  return common::base64_encode(common::hmac_sha256(*key, content));
}

}  // namespace

std::optional<std::string> sign_webhook(std::string_view secret, std::string_view msg_id,
                                        std::int64_t timestamp, std::string_view body) {
  auto signature = signature_base64(secret, msg_id, timestamp, body);
  if (!signature) return std::nullopt;
  return std::string(version_prefix) + *signature;
}

std::string signature_header(const std::vector<std::string>& secrets, std::string_view msg_id,
                             std::int64_t timestamp, std::string_view body) {
  std::string header;
  for (const auto& secret : secrets) {
    const auto signature = sign_webhook(secret, msg_id, timestamp, body);
    if (!signature) continue;
    if (!header.empty()) header += ' ';
    header += *signature;
  }
  return header;
}

bool verify_webhook(std::string_view secret, std::string_view msg_id, std::int64_t timestamp,
                    std::string_view body, std::string_view header, std::int64_t now,
                    std::int64_t tolerance_seconds) {
  if (tolerance_seconds < 0) return false;
  // Unsigned distance: now - timestamp itself may overflow for hostile timestamps.
  const auto distance =
      now >= timestamp ? static_cast<std::uint64_t>(now) - static_cast<std::uint64_t>(timestamp)
                       : static_cast<std::uint64_t>(timestamp) - static_cast<std::uint64_t>(now);
  if (distance > static_cast<std::uint64_t>(tolerance_seconds)) return false;

  const auto expected = signature_base64(secret, msg_id, timestamp, body);
  if (!expected) return false;
  bool matched = false;
  std::size_t pos = 0;
  while (pos < header.size()) {
    std::size_t end = header.find(' ', pos);
    if (end == std::string_view::npos) end = header.size();
    const std::string_view token = header.substr(pos, end - pos);
    pos = end + 1;
    // Other versions (a future "v1a,") are skipped, not errors, as the standard asks.
    if (!token.starts_with(version_prefix)) continue;
    // No early exit: every candidate costs the same, whichever one matches.
    if (common::constant_time_equal(token.substr(version_prefix.size()), *expected)) matched = true;
  }
  return matched;
}

}  // namespace psig::domain
