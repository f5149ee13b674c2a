#include "delivery/relay.hpp"

#include <boost/asio/as_tuple.hpp>
#include <pqxx/nontransaction>
#include <spdlog/spdlog.h>

#include "bus/jetstream.hpp"
#include "storage/pg_pool.hpp"
#include "storage/pg_util.hpp"
#include "storage/table_stats.hpp"

namespace psig::delivery {
namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

struct claimed {
  long long outbox_id;
  std::string delivery_id;
  int attempt;
  bool websocket;
  bool republished;  // published before: its lease ran out with no attempt recorded
};

// The relay's own bookkeeping is committed without waiting for the WAL flush: nothing is
// acknowledged on it, and what a PostgreSQL crash loses of it only makes rows be published
// again (below). Events and attempts stay durable. Its statements go in one query string,
// which PostgreSQL runs as one transaction: one round trip instead of BEGIN, SET, each
// statement and COMMIT (measured: the relay's claim took 5-6 ms under load, mostly waiting).
const std::string asynchronous_commit = "SET LOCAL synchronous_commit = off;";

// One relay cycle. First statement (its own transaction): lock due rows (SKIP LOCKED: other
// nodes' relays pass them by), lease them (due again only after delivery_lease), mark their
// webhook deliveries in flight. Then publish, with no lock held: a fast worker's attempt never
// waits for this relay. Second transaction, only when there is something to settle: delete the
// published rows of websocket consumers (done once JetStream has them) and make the failed ones
// due again. A crash between the two leaves rows leased, published again when the lease runs
// out; a row published twice is deduplicated by Nats-Msg-Id, or delivered twice with one
// webhook-id: at least once.
//
// A published webhook row stays in the outbox as the delivery's lease, deleted by the attempt
// writer with the attempt's result. A row that falls due again was published and never
// attempted (a crashed node, a lost message): this relay publishes it again, which is the
// sweeper. Keeping the lease here rather than on `deliveries` leaves that table's status
// updates without an index to change (HOT). Returns how many rows were taken.
std::size_t relay_once(pqxx::connection& c, bus::jetstream& js, const relay_settings& s,
                       common::metrics_registry& metrics) {
  const auto& names = s.names;
  std::vector<claimed> rows;
  std::vector<bus::outgoing_message> msgs;
  // One statement, one round trip: claimed, leased (or dropped) and marked in flight at once.
  // Prepared, with its generic plan: planning it took longer than running it. The LIMIT is a
  // constant: with a parameter there, the generic plan assumes a tenth of the outbox is due and
  // hash-joins all of a consumer's deliveries (measured: 10 ms per cycle).
  const auto r = storage::pg::exec_generic(
      c, "psig_relay_claim",
      "WITH due AS (SELECT id, delivery_id, attempt, lease_until FROM outbox"
      " WHERE available_at <= now() ORDER BY available_at LIMIT " + std::to_string(s.batch) +
      " FOR UPDATE SKIP LOCKED),"
      " info AS (SELECT due.id, due.delivery_id, due.attempt, d.project_id, d.consumer_id, c.kind, e.type,"
      " CASE WHEN c.kind = 'websocket' THEN e.envelope END AS envelope,"
      " CASE WHEN c.kind = 'websocket' THEN e.to_users::text END AS to_users,"
      " due.lease_until IS NOT NULL AS republished,"
      // Its attempt is recorded, or it is moot: dropped, not published.
      " d.attempts >= due.attempt OR d.status IN ('succeeded', 'dead', 'discarded') AS moot"
      " FROM due JOIN deliveries d ON d.id = due.delivery_id JOIN events e ON e.id = d.event_id"
      " JOIN consumers c ON c.id = d.consumer_id),"
      " dropped AS (DELETE FROM outbox o USING info WHERE o.id = info.id AND info.moot),"
      " leased AS (UPDATE outbox o SET available_at = now() + make_interval(secs => $1),"
      " lease_until = now() + make_interval(secs => $1) FROM info WHERE o.id = info.id AND NOT info.moot),"
      " flying AS (UPDATE deliveries d SET status = 'in_flight', updated_at = now() FROM info"
      " WHERE d.id = info.delivery_id AND NOT info.moot AND NOT info.republished"
      " AND info.kind <> 'websocket' AND d.attempts < info.attempt"
      " AND d.status IN ('pending', 'scheduled', 'retrying'))"
      " SELECT id, delivery_id, attempt, project_id, consumer_id, kind, type, envelope, to_users,"
      " republished, moot FROM info",
      "(" + std::to_string(s.delivery_lease.count()) + ")", asynchronous_commit);
  const std::size_t taken = r.size();
  for (const auto& row : r) {
    if (row[10].as<bool>()) continue;
    claimed cl{row[0].as<long long>(), row[1].as<std::string>(), row[2].as<int>(),
               row[5].as<std::string>() == "websocket", row[9].as<bool>()};
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
  if (rows.empty()) return taken;

  const auto ok = js.publish_all(msgs, std::chrono::seconds(5));
  std::vector<std::string> ws_rows, ws_done, retry_rows, not_sent;
  std::size_t failures = 0, republished = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    if (!ok[i]) {
      ++failures;
      retry_rows.push_back("(" + std::to_string(row.outbox_id) + "," + (row.republished ? "true" : "false") + ")");
      if (!row.websocket && !row.republished) {
        not_sent.push_back("(" + c.quote(row.delivery_id) + "," + std::to_string(row.attempt) + ")");
      }
      continue;
    }
    if (row.republished) ++republished;
    if (row.websocket) {
      ws_rows.push_back(std::to_string(row.outbox_id));
      ws_done.push_back("(" + c.quote(row.delivery_id) + "," + std::to_string(row.attempt) + ")");
    }
  }
  // One round trip too: the statements run as one (implicit) transaction.
  std::string settle;
  if (!ws_rows.empty()) {
    settle += "DELETE FROM outbox WHERE id IN (" + storage::pg::comma_list(ws_rows) + ");"
              "UPDATE deliveries d SET status = 'succeeded', attempts = v.attempt, updated_at = now(),"
              " next_attempt_at = NULL FROM (VALUES " + storage::pg::comma_list(ws_done) + ") AS v(id, attempt) WHERE d.id = v.id;";
  }
  if (!retry_rows.empty()) {
    // Never stored by JetStream, so never attempted: due again for the next cycle, and (if it
    // was never published before) waiting rather than in flight.
    settle += "UPDATE outbox o SET available_at = now(), lease_until = CASE WHEN v.before THEN o.lease_until END"
              " FROM (VALUES " + storage::pg::comma_list(retry_rows) + ") AS v(id, before) WHERE o.id = v.id;";
  }
  if (!not_sent.empty()) {
    settle += "UPDATE deliveries d SET status = CASE WHEN d.attempts = 0 THEN 'pending' ELSE 'retrying' END,"
              " updated_at = now() FROM (VALUES " + storage::pg::comma_list(not_sent) + ") AS v(id, attempt)"
              " WHERE d.id = v.id AND d.status = 'in_flight' AND d.attempts < v.attempt;";
  }
  if (!settle.empty()) pqxx::nontransaction(c).exec(asynchronous_commit + settle);
  metrics.get_counter("psig_relay_published_total", "outbox rows published to JetStream")
      .inc(rows.size() - failures);
  if (republished > 0) {
    spdlog::warn("relay: {} deliveries published again after their in-flight lease ran out", republished);
    metrics.get_counter("psig_sweeper_requeued_total", "in-flight deliveries published again after their lease")
        .inc(republished);
  }
  if (failures > 0) {
    metrics.get_counter("psig_jetstream_publish_errors_total", "JetStream publishes not acknowledged")
        .inc(failures);
    spdlog::warn("relay: {} of {} JetStream publishes failed; they stay in the outbox", failures,
                 rows.size());
  }
  return taken;
}

struct outbox_depth {
  double due_rows = 0;        // outbox rows due now
  double oldest_due_age = 0;  // seconds the oldest of them has waited
};

outbox_depth measure_outbox(pqxx::connection& c) {
  pqxx::nontransaction w(c);
  const auto depth = w.exec1(
      "SELECT count(*), coalesce(extract(epoch FROM now() - min(available_at)), 0)::float8"
      " FROM outbox WHERE available_at <= now()");
  return {depth[0].as<double>(), depth[1].as<double>()};
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
    : strand_(asio::make_strand(ioc)), timer_(strand_), gauge_timer_(strand_), stats_timer_(strand_),
      retention_timer_(strand_), pool_(pool), js_(js),
      metrics_(metrics), settings_(settings) {}

void relay::start() {
  asio::co_spawn(strand_, [this] { return relay_loop(); }, asio::detached);
  asio::co_spawn(strand_, [this] { return gauge_loop(); }, asio::detached);
  asio::co_spawn(strand_, [this] { return stats_loop(); }, asio::detached);
  asio::co_spawn(strand_, [this] { return retention_loop(); }, asio::detached);
}

void relay::stop() {
  stopping_ = true;
  asio::post(strand_, [this] {
    timer_.cancel();
    gauge_timer_.cancel();
    stats_timer_.cancel();
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

awaitable<void> relay::gauge_loop() {
  while (!stopping_) {
    gauge_timer_.expires_after(settings_.gauge_every);
    co_await gauge_timer_.async_wait(use_tuple);
    if (stopping_) break;
    try {
      auto measure = [](pqxx::connection& c) { return measure_outbox(c); };
      const auto depth = co_await pool_.run(std::move(measure));
      metrics_.get_gauge("psig_outbox_due_rows", "outbox rows due for relaying").set(depth.due_rows);
      metrics_.get_gauge("psig_outbox_oldest_due_seconds", "age of the oldest due outbox row")
          .set(depth.oldest_due_age);
    } catch (const std::exception& e) {
      spdlog::warn("outbox gauges failed: {}", e.what());
    }
  }
}

// A queue table that refilled after VACUUM found it empty has statistics of 0 rows, and every
// plan made on them scans whole indexes (storage/table_stats.hpp): analyzed within a second,
// from the start (a daemon started on emptied tables makes its plans at once), instead of at
// the next auto-analyze.
awaitable<void> relay::stats_loop() {
  bool failing = false;  // a database outage is logged once, not every second
  while (!stopping_) {
    try {
      auto refresh = [](pqxx::connection& c) {
        return storage::analyze_stale(c, {"outbox", "deliveries", "events", "delivery_attempts"});
      };
      for (const auto& table : co_await pool_.run(std::move(refresh))) {
        spdlog::info("relay: analyzed {}: its planner statistics were far below its size", table);
      }
      failing = false;
    } catch (const std::exception& e) {
      if (!failing) spdlog::warn("statistics check failed: {}", e.what());
      failing = true;
    }
    stats_timer_.expires_after(settings_.stats_every);
    co_await stats_timer_.async_wait(use_tuple);
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
