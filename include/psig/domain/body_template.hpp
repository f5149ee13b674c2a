#pragma once
// Body templates of push and e-mail consumers: any JSON value whose strings may hold
// "{{ path }}" placeholders over the envelope ("{{data.title}}", "{{ type }}").
// A string that is exactly one placeholder takes the value's JSON type; otherwise the value is
// interpolated as text (strings raw, other values as compact JSON). A missing path renders as
// null (whole-string placeholder) or "" (inside text).
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace psig::domain {

// nullopt when valid; otherwise "<json path>: reason", e.g. "body.title: unclosed {{".
// Limits: template serialised <= 64 KiB, <= 256 placeholders, paths as filter paths.
std::optional<std::string> validate_template(const nlohmann::json& tmpl);

nlohmann::json render_template(const nlohmann::json& tmpl, const nlohmann::json& envelope);

}  // namespace psig::domain
