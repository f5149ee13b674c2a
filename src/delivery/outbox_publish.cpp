#include "delivery/outbox_publish.hpp"

#include <algorithm>

#include "storage/pg_util.hpp"

namespace psig::delivery {

void outbox_batch::add_webhook(const bus::nats_names& names, outbox_row row, const std::string& project,
                               const std::string& consumer) {
  msgs.push_back({names.dlv_prefix + project + "." + consumer,
                  row.delivery_id + "-" + std::to_string(row.attempt),
                  R"({"d":")" + row.delivery_id + R"(","a":)" + std::to_string(row.attempt) + "}",
                  {}});
  rows.push_back(std::move(row));
}

void outbox_batch::add_websocket(const bus::nats_names& names, outbox_row row, const std::string& project,
                                 const std::string& consumer, const std::string& type,
                                 std::string envelope, std::string to_users) {
  row.websocket = true;
  msgs.push_back({names.ws_prefix + project + "." + consumer + "." + type,
                  row.delivery_id + "-" + std::to_string(row.attempt), std::move(envelope),
                  std::move(to_users)});
  rows.push_back(std::move(row));
}

void outbox_batch::append(outbox_batch&& other) {
  std::move(other.rows.begin(), other.rows.end(), std::back_inserter(rows));
  std::move(other.msgs.begin(), other.msgs.end(), std::back_inserter(msgs));
}

publish_tally tally_of(const outbox_batch& batch, const std::vector<bool>& ok) {
  publish_tally t;
  for (std::size_t i = 0; i < batch.rows.size(); ++i) {
    const auto& row = batch.rows[i];
    if (!ok[i]) {
      ++t.failed;
      t.settles = true;
      continue;
    }
    ++t.published;
    if (row.republished) ++t.republished;
    if (row.websocket) t.settles = true;
  }
  return t;
}

std::string settle_sql(pqxx::connection& c, const outbox_batch& batch, const std::vector<bool>& ok) {
  std::vector<std::string> ws_rows, ws_done, retry_rows, not_sent;
  for (std::size_t i = 0; i < batch.rows.size(); ++i) {
    const auto& row = batch.rows[i];
    const auto attempt = std::to_string(row.attempt);
    if (!ok[i]) {
      retry_rows.push_back("(" + std::to_string(row.outbox_id) + "," + (row.republished ? "true" : "false") + ")");
      if (!row.websocket && !row.republished) not_sent.push_back("(" + c.quote(row.delivery_id) + "," + attempt + ")");
    } else if (row.websocket) {
      ws_rows.push_back(std::to_string(row.outbox_id));
      ws_done.push_back("(" + c.quote(row.delivery_id) + "," + attempt + ")");
    }
  }
  std::string sql;
  if (!ws_rows.empty()) {
    sql += "DELETE FROM outbox WHERE id IN (" + storage::pg::comma_list(ws_rows) + ");"
           "UPDATE deliveries d SET status = 'succeeded', attempts = v.attempt, updated_at = now(),"
           " next_attempt_at = NULL FROM (VALUES " + storage::pg::comma_list(ws_done) + ") AS v(id, attempt) WHERE d.id = v.id;";
  }
  if (!retry_rows.empty()) {
    // Never stored by JetStream, so never attempted: due again for the next relay cycle.
    sql += "UPDATE outbox o SET available_at = now(), lease_until = CASE WHEN v.before THEN o.lease_until END"
           " FROM (VALUES " + storage::pg::comma_list(retry_rows) + ") AS v(id, before) WHERE o.id = v.id;";
  }
  if (!not_sent.empty()) {
    sql += "UPDATE deliveries d SET status = CASE WHEN d.attempts = 0 THEN 'pending' ELSE 'retrying' END,"
           " updated_at = now() FROM (VALUES " + storage::pg::comma_list(not_sent) + ") AS v(id, attempt)"
           " WHERE d.id = v.id AND d.status = 'in_flight' AND d.attempts < v.attempt;";
  }
  return sql.empty() ? sql : asynchronous_commit + sql;
}

}  // namespace psig::delivery
