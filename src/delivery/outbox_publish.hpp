#pragma once
// Publishing outbox rows to JetStream and recording what JetStream took, shared by the two
// paths that publish (DESIGN §3): the relay, with the rows it claimed, and the hand-off, with
// the rows an ingest transaction has just committed, published by the node that wrote them
// without waiting for a relay cycle.
#include <string>
#include <vector>

#include <pqxx/connection>

#include "bus/jetstream.hpp"
#include "bus/nats_names.hpp"

namespace psig::delivery {

// The relay's own bookkeeping is committed without waiting for the WAL flush: nothing is
// acknowledged on it, and what a PostgreSQL crash loses of it only makes rows be published
// again. Events and attempts stay durable. Its statements go in one query string, which
// PostgreSQL runs as one transaction: one round trip instead of BEGIN, SET, each statement and
// COMMIT (measured: the relay's claim took 5-6 ms under load, mostly waiting).
inline const std::string asynchronous_commit = "SET LOCAL synchronous_commit = off;";

struct outbox_row {
  long long outbox_id = 0;
  std::string delivery_id;
  int attempt = 1;
  bool websocket = false;
  bool republished = false;  // published before: its lease ran out with no attempt recorded
};

// Rows and their messages, index for index. The message id is {delivery id}-{attempt}, so a
// row published twice (by the hand-off and then the relay, by two nodes) is stored once.
struct outbox_batch {
  std::vector<outbox_row> rows;
  std::vector<bus::outgoing_message> msgs;

  // A webhook-like delivery's message names the delivery; the worker loads the rest.
  void add_webhook(const bus::nats_names& names, outbox_row row, const std::string& project,
                   const std::string& consumer);
  // A websocket consumer's message is the envelope itself, on its event type's subject.
  void add_websocket(const bus::nats_names& names, outbox_row row, const std::string& project,
                     const std::string& consumer, const std::string& type, std::string envelope,
                     std::string to_users);
  void append(outbox_batch&& other);
  bool empty() const { return rows.empty(); }
};

struct publish_tally {
  std::size_t published = 0, failed = 0, republished = 0;
  bool settles = false;  // the database has something to record (settle_sql is not empty)
};

publish_tally tally_of(const outbox_batch& batch, const std::vector<bool>& ok);

// The statements that record a publish (empty when there is nothing to record): published rows
// of websocket consumers deleted and their deliveries succeeded (their message went to
// PSIG_WS: done); rows JetStream did not take due again now, and their deliveries waiting
// rather than in flight. A published webhook row stays as the delivery's in-flight lease.
// They run as one implicit transaction, committed asynchronously.
std::string settle_sql(pqxx::connection& c, const outbox_batch& batch, const std::vector<bool>& ok);

}  // namespace psig::delivery
