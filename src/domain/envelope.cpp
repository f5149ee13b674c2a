#include "psig/domain/envelope.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

#include "psig/common/crypto.hpp"
#include "psig/common/ids.hpp"
#include "psig/common/time.hpp"
#include "psig/domain/pattern.hpp"

namespace psig::domain {
namespace {

using json = nlohmann::json;

constexpr std::size_t max_text_bytes = 255;
constexpr std::size_t max_users = 1000;
constexpr std::size_t max_consumers = 100;
constexpr auto max_schedule_ahead = std::chrono::days{30};
// A hostile body (thousands of unknown keys or bad list items) must not produce an error
// response larger than the request; the first ones are enough to fix it.
constexpr std::size_t max_reported_errors = 100;

constexpr std::array<std::string_view, 9> known_fields{
    "type", "data", "source", "subject", "id", "deliver_at", "delay", "to", "consumers"};

class error_sink {
 public:
  void add(std::string field, std::string message) {
    ++count_;
    if (list_.size() < max_reported_errors) list_.push_back({std::move(field), std::move(message)});
  }
  bool empty() const { return count_ == 0; }
  std::vector<field_error>& list() { return list_; }

 private:
  std::vector<field_error> list_;
  std::size_t count_ = 0;
};

// Optional fields may be sent as null, which means the same as leaving them out.
const json* optional_field(const json& body, const char* name) {
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string indexed(std::string_view field, std::size_t index) {
  std::string out(field);
  out += '[';
  out += std::to_string(index);
  out += ']';
  return out;
}

std::optional<std::string> text_field(const json& body, const char* name, error_sink& errors) {
  const json* value = optional_field(body, name);
  if (value == nullptr) return std::nullopt;
  if (!value->is_string()) {
    errors.add(name, "must be a string");
    return std::nullopt;
  }
  const auto& text = value->get_ref<const std::string&>();
  if (text.size() > max_text_bytes) {
    errors.add(name, "must be at most 255 bytes");
    return std::nullopt;
  }
  return text;
}

void parse_type(const json& body, event_request& req, error_sink& errors) {
  const auto it = body.find("type");
  if (it == body.end()) return errors.add("type", "is required");
  if (!it->is_string()) return errors.add("type", "must be a string");
  const auto& type = it->get_ref<const std::string&>();
  if (auto reason = validate_event_type(type)) return errors.add("type", std::move(*reason));
  req.type = type;
}

void parse_idempotency_key(const json& body, event_request& req, error_sink& errors) {
  const json* value = optional_field(body, "id");
  if (value == nullptr) return;
  if (!value->is_string()) return errors.add("id", "must be a string");
  const auto& key = value->get_ref<const std::string&>();
  if (key.empty()) return errors.add("id", "must not be empty");
  if (key.size() > max_text_bytes) return errors.add("id", "must be at most 255 bytes");
  // The key is echoed in headers and logs, where control or non-ASCII bytes cause trouble.
  for (const char c : key) {
    if (c < 0x20 || c > 0x7e) return errors.add("id", "must be printable ASCII");
  }
  req.idempotency_key = key;
}

void parse_schedule(const json& body, std::chrono::system_clock::time_point now, event_request& req,
                    error_sink& errors) {
  const json* at = optional_field(body, "deliver_at");
  const json* delay = optional_field(body, "delay");
  if (at != nullptr && delay != nullptr) {
    return errors.add("delay", "cannot be combined with deliver_at");
  }
  // Compared in seconds: adding 30 days to a far-future time in nanoseconds could overflow.
  const auto now_s = std::chrono::floor<std::chrono::seconds>(now);
  if (at != nullptr) {
    const auto when =
        at->is_string() ? common::parse_rfc3339(at->get_ref<const std::string&>()) : std::nullopt;
    if (!when) return errors.add("deliver_at", "must be an RFC 3339 time");
    if (std::chrono::floor<std::chrono::seconds>(*when) - now_s > max_schedule_ahead) {
      return errors.add("deliver_at", "must be at most 30 days ahead");
    }
    req.deliver_at = *when;  // a time in the past means "now"; the relay publishes it at once
  } else if (delay != nullptr) {
    const auto amount =
        delay->is_string() ? parse_delay(delay->get_ref<const std::string&>()) : std::nullopt;
    if (!amount) {
      return errors.add("delay", "must be a duration such as \"90s\", \"5m\", \"1h30m\" or \"2d\"");
    }
    if (*amount > max_schedule_ahead) return errors.add("delay", "must be at most 30 days");
    req.deliver_at = now + *amount;
  }
}

void parse_users(const json& body, event_request& req, error_sink& errors) {
  const json* to = optional_field(body, "to");
  if (to == nullptr) return;
  if (!to->is_object()) return errors.add("to", "must be an object");
  for (auto it = to->begin(); it != to->end(); ++it) {
    if (it.key() != "users") errors.add("to." + it.key(), "is not a known field");
  }
  const json* users = optional_field(*to, "users");
  if (users == nullptr) return;
  if (!users->is_array()) return errors.add("to.users", "must be a list");
  if (users->size() > max_users) return errors.add("to.users", "must have at most 1000 items");
  std::vector<std::string> out;
  out.reserve(users->size());
  for (std::size_t i = 0; i < users->size(); ++i) {
    const json& user = (*users)[i];
    if (!user.is_string()) {
      errors.add(indexed("to.users", i), "must be a string");
      continue;
    }
    const auto& id = user.get_ref<const std::string&>();
    if (id.empty() || id.size() > max_text_bytes) {
      errors.add(indexed("to.users", i), "must be 1-255 bytes");
      continue;
    }
    out.push_back(id);
  }
  req.to_users = std::move(out);
}

void parse_consumers(const json& body, event_request& req, error_sink& errors) {
  const json* consumers = optional_field(body, "consumers");
  if (consumers == nullptr) return;
  if (!consumers->is_array()) return errors.add("consumers", "must be a list");
  if (consumers->size() > max_consumers) {
    return errors.add("consumers", "must have at most 100 items");
  }
  std::vector<std::string> out;
  out.reserve(consumers->size());
  for (std::size_t i = 0; i < consumers->size(); ++i) {
    const json& id = (*consumers)[i];
    if (!id.is_string() || !common::is_valid_id("con", id.get_ref<const std::string&>())) {
      errors.add(indexed("consumers", i), "must be a consumer id (con_...)");
      continue;
    }
    out.push_back(id.get_ref<const std::string&>());
  }
  req.consumers = std::move(out);
}

std::string json_string(std::string_view text) {
  // replace: a string that is not UTF-8 (only possible when built in code, the parser rejects
  // it) must not make rendering throw.
  return json(text).dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

std::optional<event_request> parse_event_request(const nlohmann::json& body,
                                                 std::chrono::system_clock::time_point now,
                                                 std::vector<field_error>& errors) {
  if (!body.is_object()) {
    errors.push_back({"body", "must be a JSON object"});
    return std::nullopt;
  }
  error_sink sink;
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (std::find(known_fields.begin(), known_fields.end(), it.key()) == known_fields.end()) {
      sink.add(it.key(), "is not a known field");
    }
  }

  event_request req;
  parse_type(body, req, sink);
  if (const auto it = body.find("data"); it != body.end()) {
    req.data = *it;
  } else {
    sink.add("data", "is required");
  }
  req.source = text_field(body, "source", sink);
  req.subject = text_field(body, "subject", sink);
  parse_idempotency_key(body, req, sink);
  parse_schedule(body, now, req, sink);
  parse_users(body, req, sink);
  parse_consumers(body, req, sink);

  if (!sink.empty()) {
    for (auto& error : sink.list()) errors.push_back(std::move(error));
    return std::nullopt;
  }
  return req;
}

std::optional<std::chrono::seconds> parse_delay(std::string_view text) {
  // Units must appear largest first and at most once each ("1h30m", not "30m1h" or "1h1h"), so
  // every duration has one spelling. Nine digits per part keep the sum far from overflow.
  static constexpr std::array<std::pair<char, std::int64_t>, 4> units{
      {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}}};
  if (text.empty()) return std::nullopt;
  std::int64_t total = 0;
  std::size_t next_unit = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::int64_t amount = 0;
    const std::size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (pos - start == 9) return std::nullopt;
      amount = amount * 10 + (text[pos] - '0');
      ++pos;
    }
    if (pos == start || pos == text.size()) return std::nullopt;
    const char unit = text[pos++];
    while (next_unit < units.size() && units[next_unit].first != unit) ++next_unit;
    if (next_unit == units.size()) return std::nullopt;
    total += amount * units[next_unit].second;
    ++next_unit;
  }
  if (total <= 0) return std::nullopt;
  return std::chrono::seconds{total};
}

std::string render_envelope(const std::string& event_id, const event_request& req,
                            std::chrono::system_clock::time_point created_at) {
  // Built by hand because nlohmann::json sorts object keys, and receivers (and the stored copy
  // that signatures are computed over) get this exact order.
  std::string out = "{\"id\":";
  out += json_string(event_id);
  out += ",\"type\":";
  out += json_string(req.type);
  out += ",\"timestamp\":";
  out += json_string(common::format_rfc3339(created_at));
  out += ",\"source\":";
  out += req.source ? json_string(*req.source) : "null";
  out += ",\"subject\":";
  out += req.subject ? json_string(*req.subject) : "null";
  out += ",\"data\":";
  out += req.data.dump(-1, ' ', false, json::error_handler_t::replace);
  out += '}';
  return out;
}

std::string request_fingerprint(const nlohmann::json& body) {
  // nlohmann::json keeps object keys sorted, so dump() is already canonical for key order.
  return common::sha256_hex(body.dump(-1, ' ', false, json::error_handler_t::replace));
}

}  // namespace psig::domain
