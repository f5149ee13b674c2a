#pragma once
// Cache invalidation across nodes over core NATS (DESIGN §5): "psig.ctl.routes" carries the id
// of a project whose keys, settings, consumers or subscriptions changed; every node drops what
// it caches of it (routes, credentials).
#include <functional>
#include <string>

#include "bus/nats_client.hpp"
#include "bus/nats_names.hpp"

typedef struct __natsSubscription natsSubscription;

namespace psig::bus {

class control_channel {
 public:
  // `on_project_changed` runs on a nats.c thread: it must be thread-safe and quick.
  control_channel(nats_client& client, const nats_names& names,
                  std::function<void(const std::string&)> on_project_changed);
  ~control_channel();
  // Non-blocking as far as nats.c allows (a buffered publish): call from the blocking pool.
  void publish_project_changed(const std::string& project_id);

 private:
  nats_client& client_;
  std::string subject_;
  std::function<void(const std::string&)> on_project_changed_;
  natsSubscription* sub_ = nullptr;
};

}  // namespace psig::bus
