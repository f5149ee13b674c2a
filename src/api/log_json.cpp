#include "api/log_json.hpp"

namespace psig::api {
namespace {

template <class T>
nlohmann::json or_null(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json();
}

}  // namespace

nlohmann::json event_json(const storage::event_record& e) {
  return {{"id", e.id},
          {"type", e.type},
          {"idempotency_key", or_null(e.idempotency_key)},
          {"deliver_at", or_null(e.deliver_at)},
          {"created_at", e.created_at},
          {"payload", nlohmann::json::parse(e.envelope, nullptr, false)}};
}

nlohmann::json delivery_json(const storage::delivery_record& d, bool with_attempts) {
  nlohmann::json j{{"id", d.id},
                   {"event_id", d.event_id},
                   {"event_type", d.event_type},
                   {"consumer_id", d.consumer_id},
                   {"status", d.status},
                   {"attempt_count", d.attempts},
                   {"next_attempt_at", or_null(d.next_attempt_at)},
                   {"last_status_code", or_null(d.last_status_code)},
                   {"last_error", or_null(d.last_error)},
                   {"created_at", d.created_at},
                   {"updated_at", d.updated_at}};
  if (with_attempts) {
    auto& attempts = j["attempts"] = nlohmann::json::array();
    for (const auto& a : d.attempt_log) {
      attempts.push_back({{"attempt", a.attempt},
                          {"started_at", a.started_at},
                          {"duration_ms", a.duration_ms},
                          {"status_code", or_null(a.status_code)},
                          {"error_class", or_null(a.error_class)},
                          {"error", or_null(a.error)},
                          {"response_body", or_null(a.response_body)},
                          {"node", a.node_id}});
    }
  }
  return j;
}

}  // namespace psig::api
