#include "delivery/attempt_writer.hpp"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "psig/common/ids.hpp"
#include "psig/common/time.hpp"
#include "storage/pg_pool.hpp"
#include "storage/pg_util.hpp"

namespace psig::delivery {
namespace {

std::optional<std::string> opt_int(const std::optional<int>& v) {
  return v ? std::optional<std::string>(std::to_string(*v)) : std::nullopt;
}

// Receivers answer anything: binary, NUL bytes, UTF-8 cut at the 16 KiB cap. PostgreSQL text
// takes none of it, so invalid sequences become U+FFFD and NULs are dropped.
std::string valid_text(const std::string& v) {
  std::string out = nlohmann::json::parse(
      nlohmann::json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)).get<std::string>();
  out.erase(std::remove(out.begin(), out.end(), '\0'), out.end());
  return out;
}

std::optional<std::string> opt_text(const std::string& v) {
  return v.empty() ? std::nullopt : std::optional<std::string>(valid_text(v));
}

// The whole batch in one prepared statement (one round trip, its own transaction): the
// outcomes come as one array per column. The unique (delivery_id, attempt) makes a redelivered
// NATS message harmless: only the attempts inserted here (`fresh`) change anything else.
constexpr const char* record_sql = R"SQL(
WITH v AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::timestamptz[],
                       $6::int[], $7::int[], $8::text[], $9::text[], $10::text[], $11::text[],
                       $12::text[], $13::timestamptz[], $14::text[], $15::text[])
    AS v(att_id, project_id, delivery_id, attempt, started_at, duration_ms, status_code,
         error_class, error, response_body, status, last_error, next_at, consumer_id,
         disable_reason)),
ins AS (
  INSERT INTO delivery_attempts (id, project_id, delivery_id, attempt, started_at, duration_ms,
                                 status_code, error_class, error, response_body, node_id)
  SELECT att_id, project_id, delivery_id, attempt, started_at, duration_ms, status_code,
         error_class, error, response_body, $16 FROM v
  ON CONFLICT (delivery_id, attempt) DO NOTHING
  RETURNING delivery_id, attempt),
fresh AS (SELECT v.* FROM v JOIN ins USING (delivery_id, attempt)),
-- The relay left each published row in the outbox as the delivery's lease: with the result
-- recorded it must not fall due again.
lease AS (
  DELETE FROM outbox o USING fresh f WHERE o.delivery_id = f.delivery_id AND o.attempt = f.attempt
  RETURNING 1),
-- An operator's discard while the attempt ran wins: the attempt is logged, the delivery stays
-- discarded and gets no retry. The leases are deleted first (the subquery runs once, before any
-- delivery row is locked): the relay's lock order is outbox, then deliveries.
upd AS (
  UPDATE deliveries d SET status = f.status, attempts = f.attempt, last_status_code = f.status_code,
         last_error = f.last_error, next_attempt_at = f.next_at, updated_at = now()
  FROM fresh f
  WHERE d.id = f.delivery_id AND d.attempts < f.attempt AND d.status <> 'discarded'
    AND (SELECT count(*) FROM lease) >= 0
  RETURNING d.id, d.status, f.attempt, f.next_at),
retry AS (
  INSERT INTO outbox (delivery_id, attempt, available_at)
  SELECT id, attempt + 1, next_at FROM upd WHERE status = 'retrying' AND next_at IS NOT NULL),
-- Consumers: a 410 Gone switches one off; a success clears failing_since; a consumer failing
-- without a single success for too long is switched off (DESIGN §8). Each consumer row is
-- updated by one of these at most (a row updated twice in one statement keeps one update).
gone_ids AS (SELECT DISTINCT ON (consumer_id) consumer_id, disable_reason FROM fresh
             WHERE disable_reason IS NOT NULL),
ok_ids AS (SELECT consumer_id FROM fresh WHERE status = 'succeeded'
           EXCEPT SELECT consumer_id FROM gone_ids),
failing_ids AS (SELECT consumer_id FROM fresh WHERE status <> 'succeeded'
                EXCEPT SELECT consumer_id FROM fresh WHERE status = 'succeeded'
                EXCEPT SELECT consumer_id FROM gone_ids),
gone AS (
  UPDATE consumers c SET status = 'disabled', disabled_reason = g.disable_reason,
         failing_since = coalesce(c.failing_since, now()), updated_at = now()
  FROM gone_ids g WHERE c.id = g.consumer_id
  RETURNING c.project_id),
ok AS (
  UPDATE consumers SET failing_since = NULL
  WHERE failing_since IS NOT NULL AND id IN (SELECT consumer_id FROM ok_ids)),
mark AS (
  UPDATE consumers SET failing_since = now()
  WHERE failing_since IS NULL AND id IN (SELECT consumer_id FROM failing_ids)),
off AS (
  UPDATE consumers SET status = 'disabled', updated_at = now(),
         disabled_reason = 'failing without a success since ' || failing_since::text
  WHERE status = 'enabled' AND failing_since < now() - make_interval(hours => $17)
    AND id IN (SELECT consumer_id FROM failing_ids)
  RETURNING project_id)
SELECT delivery_id, attempt, NULL AS disabled_project FROM ins
UNION ALL SELECT NULL, NULL, project_id FROM gone
UNION ALL SELECT NULL, NULL, project_id FROM off
)SQL";

struct write_result {
  std::vector<bool> fresh;                  // per outcome: was its attempt row new?
  std::set<std::string> disabled_projects;  // projects of consumers switched off here
};

write_result write(pqxx::connection& c, const std::string& node, std::chrono::hours disable_after,
                   const std::vector<attempt_outcome*>& batch) {
  constexpr std::size_t columns = 15;
  storage::pg::array_literal cols[columns];
  for (const auto* o : batch) {
    const std::string last_error = o->error_class.empty() ? "" : o->error_class + ": " + o->error;
    const std::optional<std::string> row[columns] = {
        common::new_id("att"), o->project_id, o->delivery_id, std::to_string(o->attempt),
        common::format_rfc3339(o->started_at), std::to_string(o->duration_ms), opt_int(o->status_code),
        opt_text(o->error_class), opt_text(o->error), opt_text(o->response_body), o->new_status,
        opt_text(last_error),
        o->next_at ? std::optional<std::string>(common::format_rfc3339(*o->next_at)) : std::nullopt,
        o->consumer_id,
        o->disable_consumer ? std::optional<std::string>(o->disable_reason) : std::nullopt};
    for (std::size_t i = 0; i < columns; ++i) cols[i].add_opt(row[i]);
  }
  std::string args = "(";
  for (const auto& col : cols) args += c.quote(col.str()) + ",";
  args += c.quote(node) + "," + std::to_string(disable_after.count()) + ")";
  const auto r = storage::pg::exec_generic(c, "psig_record_attempts", record_sql, args);

  std::set<std::pair<std::string, int>> fresh;
  write_result result;
  for (const auto& row : r) {
    if (!row[2].is_null()) result.disabled_projects.insert(row[2].as<std::string>());
    else fresh.emplace(row[0].as<std::string>(), row[1].as<int>());
  }
  for (const auto* o : batch) result.fresh.push_back(fresh.count({o->delivery_id, o->attempt}) != 0);
  return result;
}

}  // namespace

attempt_writer::attempt_writer(storage::pg_pool& pool, std::string node_id,
                               std::chrono::hours failing_disable_after,
                               std::function<void(const std::string&)> consumers_disabled,
                               std::size_t max_batch)
    : pool_(pool), node_id_(std::move(node_id)), failing_disable_after_(failing_disable_after),
      consumers_disabled_(std::move(consumers_disabled)), max_batch_(max_batch) {}

awaitable<bool> attempt_writer::record(attempt_outcome outcome) {
  auto start = [this, outcome = std::move(outcome)](auto done) mutable {
    std::lock_guard lock(mutex_);
    queue_.push_back(pending{std::move(outcome), std::move(done)});
    start_locked();
  };
  return common::suspend_until<bool>(std::move(start));
}

void attempt_writer::start_locked() {
  // One transaction at a time: while it runs, the next batch gathers (group commit).
  if (running_ || queue_.empty()) return;
  running_ = true;
  auto batch = std::make_shared<std::vector<pending>>();
  while (!queue_.empty() && batch->size() < max_batch_) {
    batch->push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  pool_.post([this, batch](pqxx::connection* c) {
    std::vector<attempt_outcome*> outcomes;
    for (auto& p : *batch) outcomes.push_back(&p.outcome);
    try {
      if (c == nullptr) throw pqxx::broken_connection("database unavailable");
      const auto written = write(*c, node_id_, failing_disable_after_, outcomes);
      // Disabled consumers must stop matching new events, here and on the other nodes.
      for (const auto& project : written.disabled_projects) consumers_disabled_(project);
      for (std::size_t i = 0; i < batch->size(); ++i) (*batch)[i].done({nullptr, written.fresh[i]});
    } catch (...) {
      for (auto& p : *batch) p.done({std::current_exception(), std::nullopt});
    }
    std::lock_guard lock(mutex_);
    running_ = false;
    start_locked();
  });
}

}  // namespace psig::delivery
