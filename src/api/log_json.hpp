#pragma once
// JSON shapes of the delivery log, shared by the events and deliveries routes.
#include <nlohmann/json.hpp>

#include "psig/storage/delivery_log.hpp"

namespace psig::api {

nlohmann::json event_json(const storage::event_record& e);
// With `with_attempts` (GET one delivery) "attempts" holds the attempt log; lists carry only
// "attempt_count".
nlohmann::json delivery_json(const storage::delivery_record& d, bool with_attempts = false);

}  // namespace psig::api
