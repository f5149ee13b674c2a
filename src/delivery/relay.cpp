#include "delivery/relay.hpp"

#include <boost/asio/as_tuple.hpp>
#include <pqxx/nontransaction>
#include <spdlog/spdlog.h>

#include "bus/jetstream.hpp"
#include "delivery/outbox_publish.hpp"
#include "storage/pg_pool.hpp"
#include "storage/pg_util.hpp"
#include "storage/table_stats.hpp"

namespace psig::delivery {
namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Counts a settled publish, by the relay or the hand-off.
void count_published(common::metrics_registry& metrics, const publish_tally& t, const char* name,
                     const char* help) {
  metrics.get_counter(name, help).inc(t.published);
  if (t.republished > 0) {
    spdlog::warn("relay: {} deliveries published again after their in-flight lease ran out", t.republished);
    metrics.get_counter("psig_sweeper_requeued_total", "in-flight deliveries published again after their lease")
        .inc(t.republished);
  }
  if (t.failed > 0) {
    metrics.get_counter("psig_jetstream_publish_errors_total", "JetStream publishes not acknowledged")
        .inc(t.failed);
    spdlog::warn("relay: {} of {} JetStream publishes failed; they stay in the outbox", t.failed,
                 t.failed + t.published);
  }
}

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
  outbox_batch batch;
  for (const auto& row : r) {
    if (row[10].as<bool>()) continue;
    outbox_row cl{row[0].as<long long>(), row[1].as<std::string>(), row[2].as<int>(), false, row[9].as<bool>()};
    const auto project = row[3].as<std::string>();
    const auto consumer = row[4].as<std::string>();
    if (row[5].as<std::string>() == "websocket") {
      batch.add_websocket(s.names, std::move(cl), project, consumer, row[6].as<std::string>(),
                          row[7].as<std::string>(), row[8].is_null() ? std::string() : row[8].as<std::string>());
    } else {
      batch.add_webhook(s.names, std::move(cl), project, consumer);
    }
  }
  if (batch.empty()) return taken;

  const auto ok = js.publish_all(batch.msgs, std::chrono::seconds(5));
  const auto tally = tally_of(batch, ok);
  if (tally.settles) pqxx::nontransaction(c).exec(settle_sql(c, batch, ok));
  count_published(metrics, tally, "psig_relay_published_total", "outbox rows the relay claimed and published to JetStream");
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

relay::relay(asio::io_context& ioc, asio::thread_pool& blocking, storage::pg_pool& pool,
             bus::jetstream& js, common::metrics_registry& metrics, relay_settings settings)
    : strand_(asio::make_strand(ioc)), blocking_(blocking), timer_(strand_), gauge_timer_(strand_), stats_timer_(strand_),
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

void relay::handoff(outbox_batch batch) {
  // Bounded: past this, rows are left to the relay, which takes them after handoff_grace_seconds.
  constexpr std::size_t max_queued = 20'000;
  {
    std::lock_guard lock(handoff_mutex_);
    if (handoff_queue_.rows.size() + batch.rows.size() > max_queued) return;
    handoff_queue_.append(std::move(batch));
    if (handing_off_) return;
    handing_off_ = true;
  }
  asio::post(blocking_, [this] { handoff_loop(); });
}

void relay::handoff_loop() {
  for (;;) {
    outbox_batch batch;
    {
      std::lock_guard lock(handoff_mutex_);
      if (handoff_queue_.empty()) {
        handing_off_ = false;
        return;
      }
      std::swap(batch, handoff_queue_);
    }
    auto ok = js_.publish_all(batch.msgs, std::chrono::seconds(5));
    const auto tally = tally_of(batch, ok);
    constexpr const char* name = "psig_handoff_published_total";
    constexpr const char* help = "outbox rows published right after their commit by the node that wrote them";
    if (!tally.settles) {
      count_published(metrics_, tally, name, help);
      continue;
    }
    // What is not settled (the database is down) is taken by the relay after handoff_grace_seconds.
    pool_.post([this, batch = std::move(batch), ok = std::move(ok), tally](pqxx::connection* c) {
      try {
        if (c == nullptr) throw pqxx::broken_connection("database unavailable");
        pqxx::nontransaction(*c).exec(settle_sql(*c, batch, ok));
        count_published(metrics_, tally, name, help);
        if (tally.failed > 0) wake();  // due again now
      } catch (const std::exception& e) {
        spdlog::warn("relay: recording a hand-off failed ({}); the relay publishes its rows again", e.what());
      }
    });
  }
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
