#include "bus/ws_message.hpp"

#include <nats/nats.h>
#include <nlohmann/json.hpp>

namespace psig::bus {

std::string message_header(natsMsg* m, const char* key) {
  const char* v = nullptr;
  if (natsMsgHeader_Get(m, key, &v) == NATS_OK && v != nullptr) return v;
  return {};
}

ws_event take_ws_event(natsMsg* msg, const std::string& prefix, std::uint64_t* pending) {
  ws_event e;
  const std::string subject = natsMsg_GetSubject(msg);
  if (subject.rfind(prefix, 0) == 0) {
    const auto rest = subject.substr(prefix.size());
    const auto a = rest.find('.');
    const auto b = a == std::string::npos ? a : rest.find('.', a + 1);
    if (b != std::string::npos) {
      e.project_id = rest.substr(0, a);
      e.consumer_id = rest.substr(a + 1, b - a - 1);
      e.type = rest.substr(b + 1);
    }
  }
  e.envelope.assign(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
  if (const auto users = message_header(msg, to_users_header); !users.empty()) {
    const auto parsed = nlohmann::json::parse(users, nullptr, false);
    if (parsed.is_array()) {
      for (const auto& u : parsed) {
        if (u.is_string()) e.to_users.push_back(u.get<std::string>());
      }
    }
  }
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg) == NATS_OK && meta != nullptr) {
    e.offset = meta->Sequence.Stream;
    if (pending != nullptr) *pending = meta->NumPending;
    jsMsgMetaData_Destroy(meta);
  }
  natsMsg_Destroy(msg);
  return e;
}

}  // namespace psig::bus
