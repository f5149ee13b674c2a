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

std::string quoted_time(pqxx::work& w, std::chrono::system_clock::time_point t) {
  return w.quote(common::format_rfc3339(t)) + "::timestamptz";
}

std::string opt_int(const std::optional<int>& v) { return v ? std::to_string(*v) : "NULL"; }

// Receivers answer anything: binary, NUL bytes, UTF-8 cut at the 16 KiB cap. PostgreSQL text
// takes none of it, so invalid sequences become U+FFFD and NULs are dropped.
std::string valid_text(const std::string& v) {
  std::string out = nlohmann::json::parse(
      nlohmann::json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)).get<std::string>();
  out.erase(std::remove(out.begin(), out.end(), '\0'), out.end());
  return out;
}

std::string opt_text(pqxx::work& w, const std::string& v) {
  return v.empty() ? "NULL" : w.quote(valid_text(v));
}

struct write_result {
  std::vector<bool> fresh;                  // per outcome: was its attempt row new?
  std::set<std::string> disabled_projects;  // projects of consumers switched off here
};

write_result write(pqxx::connection& c, const std::string& node, std::chrono::hours disable_after,
                   const std::vector<attempt_outcome*>& batch) {
  pqxx::work w(c);
  std::string attempts_sql;
  for (const auto* o : batch) {
    attempts_sql += (attempts_sql.empty() ? "(" : ",(") + w.quote(common::new_id("att")) + "," +
                    w.quote(o->project_id) + "," + w.quote(o->delivery_id) + "," +
                    std::to_string(o->attempt) + "," + quoted_time(w, o->started_at) + "," +
                    std::to_string(o->duration_ms) + "," + opt_int(o->status_code) + "," +
                    opt_text(w, o->error_class) + "," + opt_text(w, o->error) + "," +
                    opt_text(w, o->response_body) + "," + w.quote(node) + ")";
  }
  // The unique (delivery_id, attempt) makes a redelivered NATS message harmless.
  std::set<std::pair<std::string, int>> fresh;
  for (const auto& r : w.exec(
           "INSERT INTO delivery_attempts (id, project_id, delivery_id, attempt, started_at,"
           " duration_ms, status_code, error_class, error, response_body, node_id) VALUES " +
           attempts_sql + " ON CONFLICT (delivery_id, attempt) DO NOTHING RETURNING delivery_id, attempt")) {
    fresh.emplace(r[0].as<std::string>(), r[1].as<int>());
  }
  write_result result;
  auto& out = result.fresh;
  std::string leases, updates, outbox;
  std::set<std::string> succeeded_consumers, failed_consumers;
  for (const auto* o : batch) {
    const bool is_new = fresh.count({o->delivery_id, o->attempt}) != 0;
    out.push_back(is_new);
    if (!is_new) continue;
    leases += (leases.empty() ? "(" : ",(") + w.quote(o->delivery_id) + "," +
              std::to_string(o->attempt) + ")";
    const std::string last_error = o->error_class.empty() ? "" : o->error_class + ": " + o->error;
    updates += (updates.empty() ? "(" : ",(") + w.quote(o->delivery_id) + "," +
               std::to_string(o->attempt) + "," + w.quote(o->new_status) + "," +
               opt_int(o->status_code) + "::int," + opt_text(w, last_error) + "::text," +
               (o->next_at ? quoted_time(w, *o->next_at) : "NULL::timestamptz") + ")";
    if (o->new_status == "retrying" && o->next_at) {
      outbox += (outbox.empty() ? "(" : ",(") + w.quote(o->delivery_id) + "," +
                std::to_string(o->attempt + 1) + "," + quoted_time(w, *o->next_at) + ")";
    }
    (o->new_status == "succeeded" ? succeeded_consumers : failed_consumers).insert(o->consumer_id);
    if (o->disable_consumer) {
      w.exec_params("UPDATE consumers SET status = 'disabled', disabled_reason = $2, updated_at = now()"
                    " WHERE id = $1",
                    o->consumer_id, o->disable_reason);
      result.disabled_projects.insert(o->project_id);
    }
  }
  if (!leases.empty()) {
    // The relay left each published row in the outbox as the delivery's lease: with the result
    // recorded it must not fall due again. Deleted before the deliveries are updated, in the
    // relay's lock order (outbox, then deliveries), so that the two never deadlock.
    w.exec("DELETE FROM outbox o USING (VALUES " + leases + ") AS v(id, attempt)"
           " WHERE o.delivery_id = v.id AND o.attempt = v.attempt");
  }
  if (!updates.empty()) {
    // An operator's discard while the attempt ran wins: the attempt is logged, the delivery
    // stays discarded and gets no retry.
    w.exec("UPDATE deliveries d SET status = v.status, attempts = v.attempt,"
           " last_status_code = v.code, last_error = v.err, next_attempt_at = v.next_at,"
           " updated_at = now()"
           " FROM (VALUES " + updates + ") AS v(id, attempt, status, code, err, next_at)"
           " WHERE d.id = v.id AND d.attempts < v.attempt AND d.status <> 'discarded'");
  }
  if (!outbox.empty()) {
    w.exec("INSERT INTO outbox (delivery_id, attempt, available_at)"
           " SELECT v.id, v.attempt, v.at FROM (VALUES " + outbox + ") AS v(id, attempt, at)"
           " JOIN deliveries d ON d.id = v.id WHERE d.status = 'retrying'");
  }
  auto id_list = [&](const std::set<std::string>& ids) {
    std::vector<std::string> quoted;
    for (const auto& id : ids) quoted.push_back(w.quote(id));
    return storage::pg::comma_list(quoted);
  };
  if (!succeeded_consumers.empty()) {
    w.exec("UPDATE consumers SET failing_since = NULL WHERE failing_since IS NOT NULL AND id IN (" +
           id_list(succeeded_consumers) + ")");
  }
  for (const auto& id : succeeded_consumers) failed_consumers.erase(id);
  if (!failed_consumers.empty()) {
    const auto ids = id_list(failed_consumers);
    w.exec("UPDATE consumers SET failing_since = now() WHERE failing_since IS NULL AND id IN (" + ids + ")");
    // A consumer failing without a single success for too long is switched off (DESIGN §8).
    const auto disabled = w.exec_params(
        "UPDATE consumers SET status = 'disabled', updated_at = now(),"
        " disabled_reason = 'failing without a success since ' || failing_since::text"
        " WHERE status = 'enabled' AND failing_since < now() - make_interval(hours => $1)"
        " AND id IN (" + ids + ") RETURNING project_id",
        static_cast<int>(disable_after.count()));
    for (const auto& r : disabled) result.disabled_projects.insert(r[0].as<std::string>());
  }
  w.commit();
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
