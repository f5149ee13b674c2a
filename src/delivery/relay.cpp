#include "delivery/relay.hpp"

#include <boost/asio/as_tuple.hpp>
#include <spdlog/spdlog.h>

#include "bus/jetstream.hpp"
#include "storage/pg_pool.hpp"
#include "storage/pg_util.hpp"

namespace psig::delivery {
namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct claimed {
  long long outbox_id;
  std::string delivery_id;
  int attempt;
  bool websocket;
};

// One relay cycle in one transaction: lock due rows, mark their deliveries in flight, publish
// them, delete the published ones, commit. The row locks (SKIP LOCKED) keep other nodes' relays off these rows meanwhile; a
// crash or a failed publish leaves them in the outbox for the next cycle (a row published
// twice is deduplicated by Nats-Msg-Id, or delivered twice with one webhook-id: at least once).
// Returns how many rows were taken.
std::size_t relay_once(pqxx::connection& c, bus::jetstream& js, const relay_settings& s,
                       common::metrics_registry& metrics) {
  const auto& names = s.names;
  pqxx::work w(c);
  // The relay's own bookkeeping is committed without waiting for the WAL flush: nothing is
  // acknowledged on it, and what a PostgreSQL crash loses of it only makes rows be published
  // again (as above). Events and attempts stay durable.
  w.exec("SET LOCAL synchronous_commit = off");
  // A lease (lease_until) is what an older node's relay left on a row it claimed: respected.
  const auto r = w.exec_params(
      "WITH due AS (SELECT id, delivery_id, attempt FROM outbox WHERE available_at <= now()"
      " AND (lease_until IS NULL OR lease_until < now()) ORDER BY available_at LIMIT $1"
      " FOR UPDATE SKIP LOCKED)"
      " SELECT due.id, due.delivery_id, due.attempt, d.project_id, d.consumer_id, c.kind, e.type,"
      " CASE WHEN c.kind = 'websocket' THEN e.envelope END,"
      " CASE WHEN c.kind = 'websocket' THEN e.to_users::text END"
      " FROM due JOIN deliveries d ON d.id = due.delivery_id JOIN events e ON e.id = d.event_id"
      " JOIN consumers c ON c.id = d.consumer_id",
      s.batch);
  if (r.empty()) return 0;
  std::vector<claimed> rows;
  std::vector<bus::outgoing_message> msgs;
  for (const auto& row : r) {
    claimed cl{row[0].as<long long>(), row[1].as<std::string>(), row[2].as<int>(),
               row[5].as<std::string>() == "websocket"};
    const auto project = row[3].as<std::string>();
    const auto consumer = row[4].as<std::string>();
    const auto msg_id = cl.delivery_id + "-" + std::to_string(cl.attempt);
    if (cl.websocket) {
      msgs.push_back({names.ws_prefix + project + "." + consumer + "." + row[6].as<std::string>(),
                      msg_id, row[7].as<std::string>(),
                      row[8].is_null() ? std::string() : row[8].as<std::string>()});
    } else {
      msgs.push_back({names.dlv_prefix + project + "." + consumer, msg_id,
                      R"({"d":")" + cl.delivery_id + R"(","a":)" + std::to_string(cl.attempt) + "}",
                      {}});
    }
    rows.push_back(std::move(cl));
  }

  // The webhook deliveries are marked in_flight before their messages go out: a fast worker's
  // attempt then waits for this transaction's (asynchronous, quick) commit, never the relay
  // for the worker's (durable) one. A row whose publish fails is put back below.
  std::string in_flight;
  for (const auto& row : rows) {
    if (row.websocket) continue;
    in_flight += (in_flight.empty() ? "(" : ",(") + w.quote(row.delivery_id) + "," +
                 std::to_string(row.attempt) + ")";
  }
  if (!in_flight.empty()) {
    w.exec_params("UPDATE deliveries d SET status = 'in_flight', updated_at = now(),"
                  " lease_until = now() + make_interval(secs => $1)"
                  " FROM (VALUES " + in_flight + ") AS v(id, attempt)"
                  " WHERE d.id = v.id AND d.attempts < v.attempt"
                  " AND d.status IN ('pending', 'scheduled', 'retrying')",
                  static_cast<int>(s.delivery_lease.count()));
  }

  const auto ok = js.publish_all(msgs, std::chrono::seconds(5));
  std::string done_ids, not_sent, ws_done;
  std::size_t failures = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto pair = "(" + w.quote(rows[i].delivery_id) + "," + std::to_string(rows[i].attempt) + ")";
    if (!ok[i]) {
      ++failures;  // stays in the outbox, unlocked at COMMIT
      if (!rows[i].websocket) not_sent += (not_sent.empty() ? "" : ",") + pair;
      continue;
    }
    done_ids += (done_ids.empty() ? "" : ",") + std::to_string(rows[i].outbox_id);
    if (rows[i].websocket) ws_done += (ws_done.empty() ? "" : ",") + pair;
  }
  if (!done_ids.empty()) w.exec("DELETE FROM outbox WHERE id IN (" + done_ids + ")");
  if (!not_sent.empty()) {
    // Never published, so never attempted: waiting again, as the next cycle will find it.
    w.exec("UPDATE deliveries d SET status = CASE WHEN d.attempts = 0 THEN 'pending' ELSE 'retrying' END,"
           " lease_until = NULL, updated_at = now() FROM (VALUES " + not_sent + ") AS v(id, attempt)"
           " WHERE d.id = v.id AND d.status = 'in_flight' AND d.attempts < v.attempt");
  }
  if (!ws_done.empty()) {
    w.exec("UPDATE deliveries d SET status = 'succeeded', attempts = v.attempt, updated_at = now(),"
           " next_attempt_at = NULL FROM (VALUES " + ws_done + ") AS v(id, attempt) WHERE d.id = v.id");
  }
  w.commit();
  metrics.get_counter("psig_relay_published_total", "outbox rows published to JetStream")
      .inc(rows.size() - failures);
  if (failures > 0) {
    metrics.get_counter("psig_jetstream_publish_errors_total", "JetStream publishes not acknowledged")
        .inc(failures);
    spdlog::warn("relay: {} of {} JetStream publishes failed; they stay in the outbox", failures,
                 rows.size());
  }
  return rows.size();
}

struct sweep_result {
  std::size_t requeued = 0;
  double due_rows = 0;        // outbox rows due now
  double oldest_due_age = 0;  // seconds the oldest of them has waited
};

sweep_result sweep_once(pqxx::connection& c) {
  pqxx::work w(c);
  const auto r = w.exec(
      "WITH stuck AS (UPDATE deliveries SET status = 'retrying', lease_until = NULL, updated_at = now()"
      " WHERE status = 'in_flight' AND lease_until < now() RETURNING id, attempts)"
      " INSERT INTO outbox (delivery_id, attempt) SELECT id, attempts + 1 FROM stuck");
  const auto depth = w.exec1(
      "SELECT count(*), coalesce(extract(epoch FROM now() - min(available_at)), 0)::float8"
      " FROM outbox WHERE available_at <= now()");
  w.commit();
  return {r.affected_rows(), depth[0].as<double>(), depth[1].as<double>()};
}

// One small batch, so a large backlog never holds long locks; returns the events deleted.
std::size_t expire_once(pqxx::connection& c, int batch) {
  pqxx::work w(c);
  const auto r = w.exec_params(
      "DELETE FROM events WHERE id IN (SELECT e.id FROM events e JOIN projects p ON"
      " p.id = e.project_id WHERE e.created_at < now() - make_interval(days => p.retention_days)"
      " LIMIT $1)",
      batch);
  w.commit();
  return r.affected_rows();
}

}  // namespace

relay::relay(asio::io_context& ioc, storage::pg_pool& pool, bus::jetstream& js,
             common::metrics_registry& metrics, relay_settings settings)
    : strand_(asio::make_strand(ioc)), timer_(strand_), sweep_timer_(strand_),
      retention_timer_(strand_), pool_(pool), js_(js),
      metrics_(metrics), settings_(settings) {}

void relay::start() {
  asio::co_spawn(strand_, [this] { return relay_loop(); }, asio::detached);
  asio::co_spawn(strand_, [this] { return sweep_loop(); }, asio::detached);
  asio::co_spawn(strand_, [this] { return retention_loop(); }, asio::detached);
}

void relay::stop() {
  stopping_ = true;
  asio::post(strand_, [this] {
    timer_.cancel();
    sweep_timer_.cancel();
    retention_timer_.cancel();
  });
}

void relay::wake() {
  if (woken_.exchange(true)) return;  // already pending: one wake-up is enough
  asio::post(strand_, [this] { timer_.cancel(); });
}

awaitable<void> relay::relay_loop() {
  while (!stopping_) {
    woken_ = false;
    std::size_t claimed = 0;
    try {
      auto cycle = [this](pqxx::connection& c) {
        return relay_once(c, js_, settings_, metrics_);
      };
      claimed = co_await pool_.run(std::move(cycle));
    } catch (const std::exception& e) {
      spdlog::warn("relay cycle failed: {}", e.what());
    }
    if (claimed >= settings_.batch || woken_) continue;  // more is waiting
    timer_.expires_after(settings_.poll);
    co_await timer_.async_wait(use_tuple);
  }
}

awaitable<void> relay::sweep_loop() {
  while (!stopping_) {
    sweep_timer_.expires_after(settings_.sweep_every);
    co_await sweep_timer_.async_wait(use_tuple);
    if (stopping_) break;
    try {
      auto sweep = [](pqxx::connection& c) { return sweep_once(c); };
      const auto swept = co_await pool_.run(std::move(sweep));
      metrics_.get_gauge("psig_outbox_due_rows", "outbox rows due for relaying").set(swept.due_rows);
      metrics_.get_gauge("psig_outbox_oldest_due_seconds", "age of the oldest due outbox row")
          .set(swept.oldest_due_age);
      if (swept.requeued > 0) {
        spdlog::warn("sweeper: {} deliveries stuck in flight went back to the outbox", swept.requeued);
        metrics_.get_counter("psig_sweeper_requeued_total", "in-flight deliveries re-queued")
            .inc(swept.requeued);
        wake();
      }
    } catch (const std::exception& e) {
      spdlog::warn("sweep failed: {}", e.what());
    }
  }
}

}  // namespace psig::delivery

namespace psig::delivery {

awaitable<void> relay::retention_loop() {
  constexpr int batch = 1000;
  while (!stopping_) {
    retention_timer_.expires_after(settings_.retention_every);
    co_await retention_timer_.async_wait(use_tuple);
    if (stopping_) break;
    try {
      std::size_t total = 0, deleted = 0;
      // At most 20 batches a round: the rest waits for the next round.
      for (int i = 0; i < 20 && !stopping_; ++i) {
        auto expire = [](pqxx::connection& c) { return expire_once(c, batch); };
        deleted = co_await pool_.run(std::move(expire));
        total += deleted;
        if (deleted < batch) break;
      }
      if (total > 0) {
        metrics_.get_counter("psig_retention_deleted_events_total", "events deleted past retention")
            .inc(total);
      }
    } catch (const std::exception& e) {
      spdlog::warn("retention round failed: {}", e.what());
    }
  }
}

}  // namespace psig::delivery
