#pragma once
// Realtime messages as the gateway sees them, whether they come from the PSIG_WS stream (with a
// stream sequence) or from core NATS (ephemeral client publishes, without one).
#include <cstdint>
#include <string>

#include "bus/jetstream.hpp"

typedef struct __natsMsg natsMsg;

namespace psig::bus {

// `msg` on a subject `{prefix}{project}.{consumer}.{type...}` as an event, with the users of its
// Psig-To-Users header and, for a JetStream message, its offset (and the messages still pending
// after it in `pending`). Destroys the message. An empty type: not one of ours.
ws_event take_ws_event(natsMsg* msg, const std::string& prefix, std::uint64_t* pending = nullptr);

// The value of header `key`, empty when absent.
std::string message_header(natsMsg* msg, const char* key);

}  // namespace psig::bus
