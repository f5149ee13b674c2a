#include "bus/control.hpp"

#include <nats/nats.h>
#include <spdlog/spdlog.h>

namespace psig::bus {
namespace {

void on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  // Copy, destroy, then act: the message belongs to nats.c's thread.
  std::string project(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
  natsMsg_Destroy(msg);
  (*static_cast<std::function<void(const std::string&)>*>(closure))(project);
}

}  // namespace

control_channel::control_channel(nats_client& client, const nats_names& names,
                                 std::function<void(const std::string&)> on_project_changed)
    : client_(client), subject_(names.ctl_routes), on_project_changed_(std::move(on_project_changed)) {
  if (client_.connection() == nullptr) return;
  if (natsConnection_Subscribe(&sub_, client_.connection(), subject_.c_str(), on_message,
                               &on_project_changed_) != NATS_OK) {
    spdlog::error("cannot subscribe to {}: other nodes' changes will reach this node late", subject_);
    sub_ = nullptr;
  }
}

control_channel::~control_channel() {
  if (sub_ != nullptr) {
    natsSubscription_Unsubscribe(sub_);
    natsSubscription_Destroy(sub_);
  }
}

void control_channel::publish_project_changed(const std::string& project_id) {
  if (client_.connection() == nullptr) return;
  natsConnection_Publish(client_.connection(), subject_.c_str(), project_id.data(),
                         static_cast<int>(project_id.size()));
}

}  // namespace psig::bus
