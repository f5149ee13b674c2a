#pragma once
// The event envelope a service posts (DESIGN §7) and the body delivered to webhooks (§8).
//   in:  {type, data, source?, subject?, id?, deliver_at? | delay?, to?: {users: []}, consumers?:
//   []} out: {"id":"evt_…","type":"…","timestamp":"…","source":…,"subject":…,"data":{…}}
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace psig::domain {

struct field_error {
  std::string field;    // "type", "data", "deliver_at", "to.users[2]", "consumers[0]", ...
  std::string message;  // "is required", "must be an RFC 3339 time", ...
};

// nlohmann::json's move is noexcept, but clang-tidy cannot see through it.
struct event_request {  // NOLINT(bugprone-exception-escape)
  std::string type;
  nlohmann::json data;                 // any JSON value, required (may be null only if given)
  std::optional<std::string> source;   // <= 255 bytes
  std::optional<std::string> subject;  // <= 255 bytes
  std::optional<std::string> idempotency_key;  // the body's "id" (1-255 bytes of printable ASCII)
  // Absolute time to deliver at; none = now. From deliver_at (RFC 3339) or delay ("90s", "5m",
  // "1h", "2d", or a combination like "1h30m"; at most 30 days ahead either way).
  std::optional<std::chrono::system_clock::time_point> deliver_at;
  std::vector<std::string> to_users;   // <= 1000 user ids of 1-255 bytes
  std::vector<std::string> consumers;  // <= 100 consumer ids ("con_" ids), narrows the targets
};

// Validates one posted envelope. `now` anchors `delay` and the 30-day bound. Unknown top-level
// fields are errors. Never throws on any JSON input.
std::optional<event_request> parse_event_request(const nlohmann::json& body,
                                                 std::chrono::system_clock::time_point now,
                                                 std::vector<field_error>& errors);

// "90s", "5m", "1h30m", "2d" -> duration; nullopt when malformed, zero, or negative.
std::optional<std::chrono::seconds> parse_delay(std::string_view text);

// The body delivered to receivers, serialised once and stored byte-exact in events.envelope.
// Key order is fixed: id, type, timestamp, source, subject, data (source/subject null if absent).
std::string render_envelope(const std::string& event_id, const event_request& req,
                            std::chrono::system_clock::time_point created_at);

// A stable hash of the request for idempotency ("same key, same body?"): SHA-256 hex of the
// canonical JSON of the posted body (objects with sorted keys), ignoring nothing else.
std::string request_fingerprint(const nlohmann::json& body);

}  // namespace psig::domain
