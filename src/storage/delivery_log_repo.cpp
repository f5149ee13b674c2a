#include "psig/storage/delivery_log.hpp"
#include "storage/pg_pool.hpp"
#include "storage/pg_util.hpp"

namespace psig::storage {
namespace {

const std::string& event_columns() {
  static const std::string c = "id, type, envelope, idempotency_key, " + pg::ts("deliver_at") +
                               ", " + pg::ts("created_at");
  return c;
}

event_record event_from_row(const pqxx::row& r) {
  return event_record{r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
                      pg::opt_string(r[3]), pg::opt_string(r[4]), r[5].as<std::string>()};
}

const std::string& delivery_columns() {
  static const std::string c = "d.id, d.event_id, e.type, d.consumer_id, d.status, d.attempts, " +
                               pg::ts("d.next_attempt_at") +
                               ", d.last_status_code, d.last_error, " + pg::ts("d.created_at") +
                               ", " + pg::ts("d.updated_at");
  return c;
}

std::optional<int> opt_int(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<int>();
}

delivery_record delivery_from_row(const pqxx::row& r) {
  delivery_record d;
  d.id = r[0].as<std::string>();
  d.event_id = r[1].as<std::string>();
  d.event_type = r[2].as<std::string>();
  d.consumer_id = r[3].as<std::string>();
  d.status = r[4].as<std::string>();
  d.attempts = r[5].as<int>();
  d.next_attempt_at = pg::opt_string(r[6]);
  d.last_status_code = opt_int(r[7]);
  d.last_error = pg::opt_string(r[8]);
  d.created_at = r[9].as<std::string>();
  d.updated_at = r[10].as<std::string>();
  return d;
}

// WHERE clause for the delivery filters; $1 is the project, $2.. follow.
std::string filter_sql(const delivery_filter&) {
  return " WHERE d.project_id = $1 AND ($2::text IS NULL OR d.status = $2)"
         " AND ($3::text IS NULL OR d.consumer_id = $3) AND ($4::text IS NULL OR e.type = $4)"
         " AND ($5::timestamptz IS NULL OR d.created_at >= $5::timestamptz)"
         " AND ($6::timestamptz IS NULL OR d.created_at < $6::timestamptz)";
}

}  // namespace

awaitable<page<event_record>> delivery_log_repo::list_events(std::string project_id,
                                                             std::optional<std::string> type,
                                                             page_request req) {
  return pool_.run([=](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    const auto r = w.exec_params("SELECT " + event_columns() +
                                     " FROM events WHERE project_id = $1 AND ($2::text IS NULL OR"
                                     " type = $2) AND ($3::text IS NULL OR id > $3)"
                                     " ORDER BY id LIMIT $4",
                                 project_id, pg::nullable(type), pg::nullable(req.cursor),
                                 req.limit + 1);
    return pg::to_page<event_record>(r, req.limit, event_from_row);
  });
}

awaitable<std::optional<event_record>> delivery_log_repo::find_event(std::string project_id,
                                                                    std::string id) {
  return pool_.run([=](pqxx::connection& c) -> std::optional<event_record> {
    pqxx::read_transaction w(c);
    const auto r = w.exec_params(
        "SELECT " + event_columns() + " FROM events WHERE project_id = $1 AND id = $2", project_id, id);
    if (r.empty()) return std::nullopt;
    return event_from_row(r[0]);
  });
}

awaitable<std::vector<delivery_record>> delivery_log_repo::deliveries_of_event(
    std::string project_id, std::string event_id) {
  return pool_.run([=](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    const auto r = w.exec_params("SELECT " + delivery_columns() +
                                     " FROM deliveries d JOIN events e ON e.id = d.event_id"
                                     " WHERE d.project_id = $1 AND d.event_id = $2 ORDER BY d.id",
                                 project_id, event_id);
    std::vector<delivery_record> out;
    for (const auto& row : r) out.push_back(delivery_from_row(row));
    return out;
  });
}

awaitable<page<delivery_record>> delivery_log_repo::list_deliveries(std::string project_id,
                                                                    delivery_filter f,
                                                                    page_request req) {
  return pool_.run([=](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    const auto r = w.exec_params(
        "SELECT " + delivery_columns() + " FROM deliveries d JOIN events e ON e.id = d.event_id" +
            filter_sql(f) + " AND ($7::text IS NULL OR d.id > $7) ORDER BY d.id LIMIT $8",
        project_id, pg::nullable(f.status), pg::nullable(f.consumer_id),
        pg::nullable(f.event_type), pg::nullable(f.since), pg::nullable(f.until),
        pg::nullable(req.cursor), req.limit + 1);
    return pg::to_page<delivery_record>(r, req.limit, delivery_from_row);
  });
}

awaitable<std::optional<delivery_record>> delivery_log_repo::find_delivery(std::string project_id,
                                                                          std::string id) {
  return pool_.run([=](pqxx::connection& c) -> std::optional<delivery_record> {
    pqxx::read_transaction w(c);
    const auto r = w.exec_params("SELECT " + delivery_columns() +
                                     " FROM deliveries d JOIN events e ON e.id = d.event_id"
                                     " WHERE d.project_id = $1 AND d.id = $2",
                                 project_id, id);
    if (r.empty()) return std::nullopt;
    auto d = delivery_from_row(r[0]);
    const auto attempts = w.exec_params(
        "SELECT attempt, " + pg::ts("started_at") +
            ", duration_ms, status_code, error_class, error, response_body, node_id"
            " FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempt",
        id);
    for (const auto& a : attempts) {
      d.attempt_log.push_back(attempt_record{a[0].as<int>(), a[1].as<std::string>(), a[2].as<int>(),
                                             opt_int(a[3]), pg::opt_string(a[4]),
                                             pg::opt_string(a[5]), pg::opt_string(a[6]),
                                             a[7].as<std::string>()});
    }
    return d;
  });
}

awaitable<delivery_log_repo::change> delivery_log_repo::retry(std::string project_id,
                                                              std::string id) {
  return pool_.run([=](pqxx::connection& c) {
    pqxx::work w(c);
    const auto r = w.exec_params(
        "SELECT status, attempts FROM deliveries WHERE project_id = $1 AND id = $2 FOR UPDATE",
        project_id, id);
    if (r.empty()) return change::not_found;
    const auto status = r[0][0].as<std::string>();
    if (status == "pending" || status == "scheduled" || status == "retrying" || status == "in_flight") {
      return change::conflict;
    }
    w.exec_params(
        "UPDATE deliveries SET status = 'pending', next_attempt_at = now(), updated_at = now()"
        " WHERE id = $1",
        id);
    w.exec_params("INSERT INTO outbox (delivery_id, attempt) VALUES ($1, $2)", id,
                  r[0][1].as<int>() + 1);
    w.commit();
    return change::done;
  });
}

awaitable<delivery_log_repo::change> delivery_log_repo::discard(std::string project_id,
                                                                std::string id) {
  return pool_.run([=](pqxx::connection& c) {
    pqxx::work w(c);
    const auto r = w.exec_params(
        "SELECT status FROM deliveries WHERE project_id = $1 AND id = $2 FOR UPDATE", project_id, id);
    if (r.empty()) return change::not_found;
    if (r[0][0].as<std::string>() == "succeeded") return change::conflict;
    w.exec_params("DELETE FROM outbox WHERE delivery_id = $1", id);
    w.exec_params(
        "UPDATE deliveries SET status = 'discarded', next_attempt_at = NULL,"
        " updated_at = now() WHERE id = $1",
        id);
    w.commit();
    return change::done;
  });
}

awaitable<delivery_log_repo::bulk_result> delivery_log_repo::bulk_retry(std::string project_id,
                                                                        delivery_filter f,
                                                                        bool confirm, int limit) {
  return pool_.run([=](pqxx::connection& c) {
    pqxx::work w(c);
    auto filter = f;
    if (!filter.status) filter.status = "dead";
    const std::string where = filter_sql(filter);
    bulk_result out;
    out.count = w.exec_params1("SELECT count(*) FROM deliveries d JOIN events e ON e.id = d.event_id" + where,
                               project_id, pg::nullable(filter.status),
                               pg::nullable(filter.consumer_id), pg::nullable(filter.event_type),
                               pg::nullable(filter.since), pg::nullable(filter.until))[0]
                    .as<long long>();
    const auto sample = w.exec_params(
        "SELECT d.id FROM deliveries d JOIN events e ON e.id = d.event_id" + where +
            " ORDER BY d.id LIMIT 10",
        project_id, pg::nullable(filter.status), pg::nullable(filter.consumer_id),
        pg::nullable(filter.event_type), pg::nullable(filter.since), pg::nullable(filter.until));
    for (const auto& r : sample) out.sample.push_back(r[0].as<std::string>());
    if (confirm) {
      const auto moved = w.exec_params(
          "WITH picked AS (SELECT d.id, d.attempts FROM deliveries d JOIN events e ON"
          " e.id = d.event_id" + where + " ORDER BY d.id LIMIT $7 FOR UPDATE OF d),"
          " queued AS (INSERT INTO outbox (delivery_id, attempt) SELECT id, attempts + 1 FROM picked)"
          " UPDATE deliveries SET status = 'pending', next_attempt_at = now(), updated_at = now()"
          " FROM picked WHERE deliveries.id = picked.id",
          project_id, pg::nullable(filter.status), pg::nullable(filter.consumer_id),
          pg::nullable(filter.event_type), pg::nullable(filter.since), pg::nullable(filter.until), limit);
      out.count = static_cast<long long>(moved.affected_rows());
    }
    w.commit();
    return out;
  });
}

}  // namespace psig::storage
