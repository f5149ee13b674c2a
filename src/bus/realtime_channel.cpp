#include "bus/realtime_channel.hpp"

#include <nats/nats.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "bus/ws_message.hpp"

namespace psig::bus {
namespace {

natsSubscription* subscribe(natsConnection* conn, const std::string& subject, natsMsgHandler cb,
                            void* closure) {
  natsSubscription* sub = nullptr;
  if (conn == nullptr || natsConnection_Subscribe(&sub, conn, subject.c_str(), cb, closure) != NATS_OK) {
    spdlog::error("cannot subscribe to {}: other nodes' realtime traffic will not reach this node", subject);
    return nullptr;
  }
  return sub;
}

void drop(natsSubscription* sub) {
  if (sub == nullptr) return;
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
}

}  // namespace

realtime_channel::realtime_channel(nats_client& client, const nats_names& names,
                                   std::function<void(ws_event)> on_ephemeral,
                                   std::function<void(join_notice)> on_join)
    : client_(client),
      names_(names),
      on_ephemeral_(std::move(on_ephemeral)),
      on_join_(std::move(on_join)) {
  ephemeral_sub_ = subscribe(client_.connection(), names_.eph_prefix + ">", &on_ephemeral_message, this);
  join_sub_ = subscribe(client_.connection(), names_.joins_prefix + ">", &on_join_message, this);
}

realtime_channel::~realtime_channel() {
  drop(ephemeral_sub_);
  drop(join_sub_);
}

void realtime_channel::on_ephemeral_message(natsConnection*, natsSubscription*, natsMsg* msg, void* self) {
  auto* channel = static_cast<realtime_channel*>(self);
  auto e = take_ws_event(msg, channel->names_.eph_prefix);
  if (!e.type.empty()) channel->on_ephemeral_(std::move(e));
}

void realtime_channel::on_join_message(natsConnection*, natsSubscription*, natsMsg* msg, void* self) {
  auto* channel = static_cast<realtime_channel*>(self);
  const std::string subject = natsMsg_GetSubject(msg);
  const auto body = nlohmann::json::parse(
      natsMsg_GetData(msg), natsMsg_GetData(msg) + natsMsg_GetDataLength(msg), nullptr, false);
  natsMsg_Destroy(msg);
  // {ns}.joins.{project}.{consumer}
  const auto rest = subject.substr(std::min(subject.size(), channel->names_.joins_prefix.size()));
  const auto dot = rest.find('.');
  if (dot == std::string::npos || !body.is_object()) return;
  join_notice n;
  n.project_id = rest.substr(0, dot);
  n.consumer_id = rest.substr(dot + 1);
  n.join = body.value("join", true);
  n.pattern = body.value("pattern", "");
  n.user = body.value("user", "");
  n.session = body.value("session", "");
  channel->on_join_(std::move(n));
}

void realtime_channel::publish_ephemeral(const ws_event& e) {
  if (client_.connection() == nullptr) return;
  const std::string subject = names_.eph_prefix + e.project_id + "." + e.consumer_id + "." + e.type;
  natsMsg* m = nullptr;
  if (natsMsg_Create(&m, subject.c_str(), nullptr, e.envelope.data(),
                     static_cast<int>(e.envelope.size())) != NATS_OK) {
    return;
  }
  if (!e.to_users.empty()) {
    natsMsgHeader_Set(m, to_users_header, nlohmann::json(e.to_users).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  }
  natsConnection_PublishMsg(client_.connection(), m);
  natsMsg_Destroy(m);
}

void realtime_channel::publish_join(const join_notice& n) {
  if (client_.connection() == nullptr) return;
  const std::string subject = names_.joins_prefix + n.project_id + "." + n.consumer_id;
  const std::string body = nlohmann::json{{"join", n.join}, {"pattern", n.pattern},
                                          {"user", n.user}, {"session", n.session}}
                               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  natsConnection_Publish(client_.connection(), subject.c_str(), body.data(), static_cast<int>(body.size()));
}

}  // namespace psig::bus
