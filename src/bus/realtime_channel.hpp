#pragma once
// The realtime traffic that is not kept (core NATS, every node receives it): ephemeral client
// publishes on psig.eph.{project}.{consumer}.{type} and join/leave notices of subscriptions on
// psig.joins.{project}.{consumer}. Durable events take the PSIG_WS stream instead.
#include <functional>
#include <string>

#include "bus/jetstream.hpp"
#include "bus/nats_client.hpp"
#include "bus/nats_names.hpp"

typedef struct __natsSubscription natsSubscription;

namespace psig::bus {

struct join_notice {
  std::string project_id;
  std::string consumer_id;
  bool join = true;  // false: leave
  std::string pattern;
  std::string user;
  std::string session;
};

class realtime_channel {
 public:
  // The callbacks run on nats.c threads: thread-safe and quick.
  realtime_channel(nats_client& client, const nats_names& names,
                   std::function<void(ws_event)> on_ephemeral,
                   std::function<void(join_notice)> on_join);
  ~realtime_channel();
  realtime_channel(const realtime_channel&) = delete;
  realtime_channel& operator=(const realtime_channel&) = delete;

  // Buffered publishes that may block when the buffer is full: call from the blocking pool.
  // Lost while NATS is away, as ephemeral traffic may be.
  void publish_ephemeral(const ws_event& e);
  void publish_join(const join_notice& n);

 private:
  static void on_ephemeral_message(natsConnection*, natsSubscription*, natsMsg* msg, void* self);
  static void on_join_message(natsConnection*, natsSubscription*, natsMsg* msg, void* self);

  nats_client& client_;
  nats_names names_;
  std::function<void(ws_event)> on_ephemeral_;
  std::function<void(join_notice)> on_join_;
  natsSubscription* ephemeral_sub_ = nullptr;
  natsSubscription* join_sub_ = nullptr;
};

}  // namespace psig::bus
