#pragma once
// The process's NATS connection: made at start-up, reconnecting forever on its own (nats.c's
// reconnect thread), with a JetStream context for the delivery streams of later stages.
#include <atomic>
#include <functional>
#include <string>

typedef struct __natsConnection natsConnection;
typedef struct __jsCtx jsCtx;
typedef struct __natsOptions natsOptions;

namespace psig::bus {

class nats_client {
 public:
  // Never throws on a down server. `on_reconnected` runs on a nats.c thread after each
  // reconnection (core NATS messages sent meanwhile are lost: caches must start over).
  nats_client(const std::string& url, const std::string& name,
              std::function<void()> on_reconnected = {});
  ~nats_client();
  nats_client(const nats_client&) = delete;
  nats_client& operator=(const nats_client&) = delete;

  // Blocking (up to ~1 s): "ok" when connected and JetStream answers, else the reason.
  // Call from a blocking pool, never from an I/O thread.
  std::string probe();
  void close();

  bool closing() const { return closing_.load(); }
  void reconnected() const {
    if (on_reconnected_) on_reconnected_();
  }
  natsConnection* connection() const { return conn_; }
  jsCtx* jetstream() const { return js_; }

 private:
  natsOptions* opts_ = nullptr;
  natsConnection* conn_ = nullptr;
  jsCtx* js_ = nullptr;
  std::atomic<bool> closing_{false};
  std::function<void()> on_reconnected_;
};

}  // namespace psig::bus
