#include "delivery/ingest_batcher.hpp"

#include <map>
#include <set>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "psig/common/ids.hpp"
#include "psig/common/time.hpp"
#include "storage/pg_pool.hpp"
#include "storage/pg_util.hpp"

namespace psig::delivery {
namespace {

using clock = std::chrono::system_clock;
using results = std::vector<std::vector<ingest_result>>;

std::shared_ptr<const project_routes> load_routes(pqxx::connection& c, const std::string& project_id) {
  pqxx::read_transaction w(c);
  const auto rows = w.exec_params(
      "SELECT s.id, s.consumer_id, c.kind, s.pattern, s.filter::text FROM subscriptions s"
      " JOIN consumers c ON c.id = s.consumer_id"
      " WHERE s.project_id = $1 AND c.status = 'enabled'",
      project_id);
  auto routes = std::make_shared<project_routes>();
  for (const auto& r : rows) {
    route_target t{r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(), nullptr};
    if (!r[4].is_null()) {
      domain::filter f;
      if (auto e = domain::filter::parse(nlohmann::json::parse(r[4].c_str()), f)) {
        // Validated at creation; a row that fails now was written by hand. Skip it, loudly.
        spdlog::error("subscription {} has an invalid filter ({}): ignored", t.subscription_id, e->message);
        continue;
      }
      t.filter = std::make_shared<const domain::filter>(std::move(f));
    }
    routes->add(r[3].as<std::string>(), std::move(t));
  }
  return routes;
}

struct event_row {
  std::size_t pending = 0, item = 0;
  const ingest_item* src = nullptr;
  std::string id;
  std::string envelope;
  std::optional<std::size_t> leader;  // an earlier row of this batch with the same key
  bool inserted = false;
};

// The batch's events, deliveries and outbox rows in one prepared statement (its generic plan):
// the rows come as one array per column. The deliveries and outbox rows are data-modifying
// CTEs joined to the events inserted, so those of an event whose key turns out to be taken (by
// an earlier or a concurrent transaction: the unique index decides, so concurrent posts with
// one key make one event) are not written. Deliveries written `in_flight` are handed off: their
// outbox rows are due only after the grace ($15 seconds). The result has a row per event inserted
// (its id, NULL) and one per outbox row (its delivery id, its id).
constexpr const char* ingest_sql = R"SQL(
WITH ev AS (
  INSERT INTO events (id, project_id, type, envelope, idempotency_key, request_hash, deliver_at,
                      created_at, to_users)
  SELECT id, project_id, type, envelope, idempotency_key, request_hash, deliver_at, $9::timestamptz,
         to_users::jsonb
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
              $7::timestamptz[], $8::text[])
    AS v(id, project_id, type, envelope, idempotency_key, request_hash, deliver_at, to_users)
  ON CONFLICT (project_id, idempotency_key) DO NOTHING
  RETURNING id, project_id),
dl AS (
  INSERT INTO deliveries (id, project_id, event_id, consumer_id, status, next_attempt_at)
  SELECT v.id, ev.project_id, v.event_id, v.consumer_id, v.status, v.at
  FROM unnest($10::text[], $11::text[], $12::text[], $13::text[], $14::timestamptz[])
    AS v(id, event_id, consumer_id, status, at)
  JOIN ev ON ev.id = v.event_id
  RETURNING id, status, next_attempt_at),
ob AS (
  INSERT INTO outbox (delivery_id, attempt, available_at)
  SELECT id, 1, CASE WHEN status = 'in_flight' THEN $9::timestamptz + make_interval(secs => $15)
                     ELSE next_attempt_at END
  FROM dl
  RETURNING id, delivery_id)
SELECT id, NULL::bigint FROM ev UNION ALL SELECT delivery_id, id FROM ob
)SQL";

std::optional<std::string> opt_time(const std::optional<clock::time_point>& t) {
  return t ? std::optional<std::string>(common::format_rfc3339(*t)) : std::nullopt;
}

// A delivery due now, to hand off once committed.
struct due_delivery {
  std::size_t row;  // of rows
  const route_target* target;
};

// The whole batch in one transaction.
ingest_written write_batch(pqxx::connection& c, routing_cache& cache, const bus::nats_names& names,
                           std::chrono::seconds handoff_grace,
                           const std::vector<const std::vector<ingest_item>*>& batch) {
  const auto now = clock::now();
  const auto now_text = common::format_rfc3339(now);

  std::unordered_map<std::string, std::shared_ptr<const project_routes>> routes;
  for (const auto* items : batch) {
    for (const auto& it : *items) {
      if (routes.count(it.project_id) != 0) continue;
      routing_cache::ticket t{};
      auto r = cache.find(it.project_id, t);
      if (!r) {
        r = load_routes(c, it.project_id);
        cache.store(it.project_id, r, t);
      }
      routes[it.project_id] = std::move(r);
    }
  }

  std::vector<event_row> rows;
  std::map<std::pair<std::string, std::string>, std::size_t> first_with_key;
  for (std::size_t p = 0; p < batch.size(); ++p) {
    for (std::size_t i = 0; i < batch[p]->size(); ++i) {
      const auto& item = (*batch[p])[i];
      event_row row{p, i, &item, common::new_id("evt"), {}, std::nullopt, false};
      if (const auto& key = item.request.idempotency_key) {
        auto [it, fresh] = first_with_key.try_emplace({item.project_id, *key}, rows.size());
        if (!fresh) row.leader = it->second;
      }
      if (!row.leader) row.envelope = domain::render_envelope(row.id, item.request, now);
      rows.push_back(std::move(row));
    }
  }

  // Each new event's deliveries are worked out before the statement; those of an event whose
  // key turns out to be taken are not inserted and not counted.
  storage::pg::array_literal events[8], deliveries[5];
  std::vector<int> delivery_counts(rows.size(), 0);
  std::unordered_map<std::string, due_delivery> due;
  bool keyed = false;
  for (std::size_t n = 0; n < rows.size(); ++n) {
    const auto& r = rows[n];
    if (r.leader) continue;
    const auto& req = r.src->request;
    keyed = keyed || req.idempotency_key.has_value();
    events[0].add(r.id);
    events[1].add(r.src->project_id);
    events[2].add(req.type);
    events[3].add(r.envelope);
    events[4].add_opt(req.idempotency_key);
    events[5].add_opt(r.src->fingerprint.empty() ? std::nullopt : std::optional<std::string>(r.src->fingerprint));
    events[6].add_opt(opt_time(req.deliver_at));
    events[7].add_opt(req.to_users.empty() ? std::nullopt
                                           : std::optional<std::string>(nlohmann::json(req.to_users).dump()));
    const auto targets = routes[r.src->project_id]->match(
        req.type, [&] { return nlohmann::json::parse(r.envelope); });
    const bool scheduled = req.deliver_at && *req.deliver_at > now;
    const std::string available = scheduled ? common::format_rfc3339(*req.deliver_at) : now_text;
    for (const auto* t : targets) {
      if (!req.consumers.empty() &&
          std::find(req.consumers.begin(), req.consumers.end(), t->consumer_id) == req.consumers.end()) {
        continue;
      }
      auto id = common::new_id("dlv");
      deliveries[0].add(id);
      deliveries[1].add(r.id);
      deliveries[2].add(t->consumer_id);
      deliveries[3].add(scheduled ? "scheduled" : "in_flight");
      if (!scheduled) due.emplace(std::move(id), due_delivery{n, t});
      deliveries[4].add(available);
      ++delivery_counts[n];
    }
  }
  std::string args = "(";
  for (const auto& col : events) args += c.quote(col.str()) + ",";
  args += c.quote(now_text);
  for (const auto& col : deliveries) {
    args += ',';
    args += c.quote(col.str());
  }
  args += ',';
  args += std::to_string(handoff_grace.count());
  args += ")";

  // Without idempotency keys nothing is looked up afterwards: the statement is its own
  // transaction (one round trip). With them, the stored events of keys taken before this batch
  // are read in the same transaction, by a second statement (a new snapshot, which sees the
  // concurrent transaction the insert waited for).
  storage::pg::prepare(c, "psig_ingest", ingest_sql);
  std::optional<pqxx::work> tx;
  std::optional<pqxx::nontransaction> auto_commit;
  pqxx::transaction_base* w = nullptr;
  if (keyed) w = &tx.emplace(c);
  else w = &auto_commit.emplace(c);
  std::set<std::string> inserted;
  std::vector<std::pair<std::string, long long>> outbox;  // delivery id, outbox row
  if (!events[0].empty()) {
    for (const auto& r : w->exec(storage::pg::generic_call("psig_ingest", args))) {
      if (r[1].is_null()) inserted.insert(r[0].as<std::string>());
      else outbox.emplace_back(r[0].as<std::string>(), r[1].as<long long>());
    }
  }

  ingest_written written;
  auto& out = written.results;
  out.resize(batch.size());
  for (std::size_t p = 0; p < batch.size(); ++p) out[p].resize(batch[p]->size());

  // Rows whose key was taken before this batch: answer from the stored event.
  std::string lookup;
  for (auto& r : rows) {
    r.inserted = !r.leader && inserted.count(r.id) != 0;
    if (r.leader || r.inserted) continue;
    lookup += (lookup.empty() ? "(" : ",(") + w->quote(r.src->project_id) + "," +
              w->quote(*r.src->request.idempotency_key) + ")";
  }
  std::map<std::pair<std::string, std::string>, std::tuple<std::string, std::string, int>> stored;
  if (!lookup.empty()) {
    const auto found = w->exec(
        "SELECT e.project_id, e.idempotency_key, e.id, e.request_hash,"
        " (SELECT count(*) FROM deliveries d WHERE d.event_id = e.id)::int FROM events e"
        " WHERE (e.project_id, e.idempotency_key) IN (VALUES " + lookup + ")");
    for (const auto& f : found) {
      stored[{f[0].as<std::string>(), f[1].as<std::string>()}] = {
          f[2].as<std::string>(), f[3].is_null() ? "" : f[3].as<std::string>(), f[4].as<int>()};
    }
  }

  for (std::size_t n = 0; n < rows.size(); ++n) {
    auto& r = rows[n];
    auto& result = out[r.pending][r.item];
    if (r.leader) continue;
    if (!r.inserted) {
      const auto it = stored.find({r.src->project_id, *r.src->request.idempotency_key});
      if (it == stored.end()) throw std::runtime_error("idempotency key vanished during ingest");
      const auto& [id, hash, count] = it->second;
      result.event_id = id;
      result.deliveries = count;
      result.result = hash == r.src->fingerprint ? ingest_result::outcome::duplicate
                                                 : ingest_result::outcome::conflict;
      continue;
    }
    result.event_id = r.id;
    result.deliveries = delivery_counts[n];
  }
  w->commit();

  for (auto& [delivery_id, outbox_id] : outbox) {
    const auto it = due.find(delivery_id);
    if (it == due.end()) continue;  // scheduled
    const auto& r = rows[it->second.row];
    const auto* t = it->second.target;
    const auto& req = r.src->request;
    outbox_row row{outbox_id, delivery_id, 1, false, false};
    if (t->consumer_kind == "websocket") {
      written.handoff.add_websocket(names, std::move(row), r.src->project_id, t->consumer_id, req.type,
                                    r.envelope,
                                    req.to_users.empty() ? std::string() : nlohmann::json(req.to_users).dump());
    } else {
      written.handoff.add_webhook(names, std::move(row), r.src->project_id, t->consumer_id);
    }
  }

  // Later rows with a key seen earlier in this batch answer like a second post would.
  for (auto& r : rows) {
    if (!r.leader) continue;
    const auto& leader = rows[*r.leader];
    const auto& first = out[leader.pending][leader.item];
    auto& result = out[r.pending][r.item];
    result.event_id = first.event_id;
    result.deliveries = first.deliveries;
    const bool same = first.result == ingest_result::outcome::conflict
                          ? false
                          : r.src->fingerprint == leader.src->fingerprint;
    result.result = same ? ingest_result::outcome::duplicate : ingest_result::outcome::conflict;
  }
  return written;
}

}  // namespace

ingest_batcher::ingest_batcher(storage::pg_pool& pool, routing_cache& routes,
                               common::metrics_registry& metrics, bus::nats_names names,
                               std::chrono::seconds handoff_grace, std::function<void(outbox_batch)> on_commit,
                               std::size_t max_batch_events, std::size_t max_parallel)
    : pool_(pool), routes_(routes), metrics_(metrics), names_(std::move(names)),
      handoff_grace_(handoff_grace), on_commit_(std::move(on_commit)),
      max_batch_events_(max_batch_events), max_parallel_(max_parallel) {}

awaitable<std::vector<ingest_result>> ingest_batcher::submit(std::vector<ingest_item> items) {
  auto start = [this, items = std::move(items)](auto done) mutable {
    enqueue(pending{std::move(items), std::move(done)});
  };
  return common::suspend_until<std::vector<ingest_result>>(std::move(start));
}

void ingest_batcher::enqueue(pending p) {
  std::lock_guard lock(mutex_);
  queue_.push_back(std::move(p));
  start_batches_locked();
}

void ingest_batcher::start_batches_locked() {
  while (running_ < max_parallel_ && !queue_.empty()) {
    auto batch = std::make_shared<std::vector<pending>>();
    std::size_t events = 0;
    // Whole requests only: a batch request is committed, or not, as one.
    while (!queue_.empty() && (batch->empty() || events + queue_.front().items.size() <= max_batch_events_)) {
      events += queue_.front().items.size();
      batch->push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    ++running_;
    pool_.post([this, batch](pqxx::connection* c) {
      run(*batch, [this, c](const std::vector<const std::vector<ingest_item>*>& items) {
        if (c == nullptr) throw pqxx::broken_connection("database unavailable");
        return write_batch(*c, routes_, names_, handoff_grace_, items);
      });
      std::lock_guard lock(mutex_);
      --running_;
      start_batches_locked();
    });
  }
}

void ingest_batcher::run(std::vector<pending>& batch, const batch_writer& write) {
  auto finish = [](pending& p, common::outcome<std::vector<ingest_result>> o) { p.done(std::move(o)); };
  outbox_batch handoff;
  auto attempt = [&](std::vector<pending*> part) -> bool {
    std::vector<const std::vector<ingest_item>*> items;
    std::size_t events = 0;
    for (auto* p : part) {
      items.push_back(&p->items);
      events += p->items.size();
    }
    try {
      auto res = write(items);
      handoff.append(std::move(res.handoff));
      metrics_.get_counter("psig_events_ingested_total", "events accepted (committed)").inc(events);
      metrics_.get_histogram("psig_ingest_batch_events", "events per group-commit transaction", {},
                             {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000})
          .observe(static_cast<double>(events));
      for (std::size_t i = 0; i < part.size(); ++i) finish(*part[i], {nullptr, std::move(res.results[i])});
      return true;
    } catch (...) {
      if (part.size() > 1) return false;
      finish(*part[0], {std::current_exception(), std::nullopt});
      return true;
    }
  };
  std::vector<pending*> all;
  for (auto& p : batch) all.push_back(&p);
  // One request's failure (say, its project was deleted meanwhile) must not fail the others:
  // a failed group is retried request by request.
  if (!attempt(all)) {
    for (auto* p : all) attempt({p});
  }
  if (on_commit_ && !handoff.empty()) on_commit_(std::move(handoff));
}

}  // namespace psig::delivery
