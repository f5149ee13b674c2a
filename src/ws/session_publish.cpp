// Client publish (DESIGN §9): a durable publish takes the REST ingest path (validation,
// idempotency, outbox, every matching consumer, acknowledged after the commit); an ephemeral one
// (typing indicators) skips PostgreSQL and reaches the connected sessions of the client's
// consumer on every node, over core NATS.
#include <chrono>

#include "delivery/ingest_batcher.hpp"
#include "psig/common/crypto.hpp"
#include "psig/common/ids.hpp"
#include "psig/domain/envelope.hpp"
#include "psig/domain/pattern.hpp"
#include "ws/gateway.hpp"
#include "ws/session.hpp"

namespace psig::ws {
namespace {

using nlohmann::json;

constexpr std::size_t max_client_id_bytes = 128;

json details_of(const std::vector<domain::field_error>& errors) {
  json details = json::array();
  for (const auto& e : errors) details.push_back({{"field", e.field}, {"message", e.message}});
  return details;
}

bool printable_ascii(const std::string& s) {
  for (char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

// The envelope a client may post: {type, data, subject?, to?}, plus the session's own fields
// (client_id, ephemeral). The server sets `source` to "ws:<user>" so receivers know the author.
std::optional<json> client_envelope(const json& args, const std::string& user,
                                    std::vector<domain::field_error>& errors) {
  if (!args.is_object()) {
    errors.push_back({"publish", "must be an object"});
    return std::nullopt;
  }
  json body = json::object();
  for (const auto& [key, value] : args.items()) {
    if (key == "client_id" || key == "ephemeral") continue;
    if (key == "type" || key == "data" || key == "subject" || key == "to") {
      body[key] = value;
    } else {
      errors.push_back({key, "is not allowed in a client publish"});
    }
  }
  if (user.size() + 3 > 255) errors.push_back({"user", "too long to publish as source ws:<user>"});
  body["source"] = "ws:" + user;
  if (!errors.empty()) return std::nullopt;
  return body;
}

}  // namespace

awaitable<void> session::publish(const json& id, const json& args) {
  std::vector<domain::field_error> errors;
  auto body = client_envelope(args, user_, errors);
  const json ephemeral = args.is_object() ? args.value("ephemeral", json(false)) : json(false);
  if (!ephemeral.is_boolean()) errors.push_back({"ephemeral", "must be true or false"});
  const json client_id = args.is_object() ? args.value("client_id", json()) : json();
  if (!client_id.is_null() &&
      (!client_id.is_string() || client_id.get<std::string>().empty() ||
       client_id.get<std::string>().size() > max_client_id_bytes ||
       !printable_ascii(client_id.get<std::string>()))) {
    errors.push_back({"client_id", "must be 1-128 printable ASCII characters"});
  }
  const auto now = std::chrono::system_clock::now();
  std::optional<domain::event_request> request;
  if (body && errors.empty()) request = domain::parse_event_request(*body, now, errors);
  if (!request || !errors.empty()) {
    std::string message = "invalid publish:";
    for (const auto& e : errors) message += " " + e.field + " " + e.message + ";";
    message.pop_back();
    reply_error(id, "validation_failed", message, details_of(errors));
    co_return;
  }
  bool allowed = false;
  for (const auto& p : publish_allowed_) allowed = allowed || domain::pattern_matches(p, request->type);
  if (!allowed) {
    reply_error(id, "forbidden", "type: outside the patterns this token may publish to",
                {{{"field", "type"}, {"message", "outside the token's publish patterns"}}});
    co_return;
  }
  if (!co_await gateway_.admit_publish(project_id_, project_settings_)) {
    reply_error(id, "rate_limited", "the project's ingest rate limit is exceeded");
    co_return;
  }

  if (ephemeral.get<bool>()) {
    bus::ws_event e;
    e.project_id = project_id_;
    e.consumer_id = consumer_id_;
    e.type = request->type;
    const std::string event_id = common::new_id("evt");
    e.envelope = domain::render_envelope(event_id, *request, now);
    e.to_users = request->to_users;
    gateway_.publish_ephemeral(std::move(e));
    send_json({{"id", id}, {"publish", {{"id", event_id}, {"ephemeral", true}}}});
    co_return;
  }

  // Idempotency per user: the same client_id from two users is two events.
  if (client_id.is_string()) {
    request->idempotency_key =
        "ws:" + common::sha256_hex(user_).substr(0, 16) + ":" + client_id.get<std::string>();
  }
  std::vector<delivery::ingest_item> items;
  items.push_back(delivery::make_ingest_item(project_id_, std::move(*request), *body));
  auto pending = gateway_.ingest(std::move(items));
  const auto results = co_await std::move(pending);
  const auto& r = results.at(0);
  if (r.result == delivery::ingest_result::outcome::conflict) {
    reply_error(id, "idempotency_conflict", "client_id: already used for an event with a different body",
                {{{"field", "client_id"}, {"message", "already used with a different body"}}});
    co_return;
  }
  send_json({{"id", id},
             {"publish",
              {{"id", r.event_id},
               {"deliveries", r.deliveries},
               {"duplicate", r.result == delivery::ingest_result::outcome::duplicate}}}});
}

}  // namespace psig::ws
