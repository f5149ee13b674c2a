#pragma once
// JetStream as the delivery relay (DESIGN §5): the PSIG_DELIVERIES work queue that every node's
// workers share through one durable pull consumer, and the PSIG_WS history stream. Every call
// here blocks (network round trips): run them on the blocking pool, never on an I/O thread.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "bus/nats_client.hpp"
#include "bus/nats_names.hpp"

typedef struct __natsMsg natsMsg;
typedef struct __natsSubscription natsSubscription;

namespace psig::bus {

struct stream_settings {
  nats_names names = nats_names("psig");
  std::chrono::seconds ack_wait{60};           // > the longest delivery attempt
  std::chrono::seconds ws_max_age{24 * 3600};  // realtime history window
  std::int64_t ws_max_msgs = 1'000'000;
};

struct outgoing_message {
  std::string subject;
  std::string msg_id;  // Nats-Msg-Id: JetStream drops a second publish within its window
  std::string payload;
  std::string to_users;  // realtime only: JSON array of user ids, sent as a header; empty: all
};

inline constexpr const char* to_users_header = "Psig-To-Users";

// A message taken from the work queue. Acknowledge exactly once (ack, nak or drop).
class work_message {
 public:
  explicit work_message(natsMsg* m);
  ~work_message();  // an unanswered message is left to AckWait redelivery
  work_message(const work_message&) = delete;
  work_message& operator=(const work_message&) = delete;

  const std::string& subject() const { return subject_; }
  const std::string& data() const { return data_; }
  std::uint64_t delivery_count() const { return delivered_; }
  void ack();
  void nak(std::chrono::milliseconds delay);

 private:
  natsMsg* msg_;
  std::string subject_;
  std::string data_;
  std::uint64_t delivered_ = 1;
};

// An event published to the realtime stream, as every node's gateway receives it.
struct ws_event {
  std::string project_id;
  std::string consumer_id;
  std::string type;
  std::uint64_t offset = 0;  // the stream sequence
  std::string envelope;
  std::vector<std::string> to_users;  // empty: every session of the consumer
};

struct ws_stream_state {
  std::string epoch;  // the stream's identity: its creation time (ns since the epoch)
  std::uint64_t first_offset = 0;  // the oldest message still kept
  std::uint64_t last_offset = 0;
};

class jetstream {
 public:
  jetstream(nats_client& client, stream_settings settings);
  ~jetstream();

  // Creates or updates both streams and the workers' durable consumer. False (logged) when
  // NATS is unreachable: callers retry.
  bool ensure();
  // Publishes all, then waits for every acknowledgement; result[i] says whether message i is
  // stored (or was a duplicate). Failures are left for the caller to retry.
  std::vector<bool> publish_all(const std::vector<outgoing_message>& msgs,
                                std::chrono::milliseconds timeout);
  // Up to `batch` messages of the work queue, waiting at most `wait` for the first.
  std::vector<std::unique_ptr<work_message>> fetch(int batch, std::chrono::milliseconds wait);

  // Every new message of the realtime stream, in order, through an ordered push consumer (each
  // node gets all of them). `on_event` runs on a nats.c thread: copy and hand over quickly.
  bool subscribe_ws(std::function<void(ws_event)> on_event);
  std::optional<ws_stream_state> ws_state();
  const nats_names& names() const;
  // The realtime stream's messages on `subject_filter` with offsets in [from, to], in order,
  // keeping those `keep` accepts; nullopt when history no longer reaches back to `from`, when
  // more than `max` would be kept, or on an error: a gap is never reported as a full history.
  std::optional<std::vector<ws_event>> ws_history(const std::string& subject_filter,
                                                  std::uint64_t from, std::uint64_t to,
                                                  std::size_t max,
                                                  const std::function<bool(const ws_event&)>& keep);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace psig::bus
