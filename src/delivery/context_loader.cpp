#include "delivery/context_loader.hpp"

#include <memory>
#include <unordered_map>

#include "storage/pg_pool.hpp"
#include "storage/pg_util.hpp"

namespace psig::delivery {
namespace {

using nlohmann::json;

std::unordered_map<std::string, delivery_context> load_all(pqxx::connection& c,
                                                           const std::vector<std::string>& ids) {
  // Prepared, with its generic plan (the ids are one array parameter): planning this join took
  // longer than running it, for every load. One SELECT: one round trip, no BEGIN/COMMIT.
  const auto r = storage::pg::exec_generic(
      c, "psig_load_contexts",
      "SELECT d.id, d.project_id, d.consumer_id, d.status, d.attempts, e.id, e.envelope, c.kind,"
      " c.url, c.headers::text, c.template::text, c.settings::text, c.status, c.secret,"
      " CASE WHEN c.previous_secret_expires_at > now() THEN c.previous_secret END"
      " FROM deliveries d JOIN events e ON e.id = d.event_id JOIN consumers c ON c.id = d.consumer_id"
      " WHERE d.id = ANY($1::text[])",
      "(" + c.quote(storage::pg::text_array(ids)) + ")");
  std::unordered_map<std::string, delivery_context> out;
  for (const auto& row : r) {
    delivery_context ctx;
    ctx.project_id = row[1].as<std::string>();
    ctx.consumer_id = row[2].as<std::string>();
    ctx.status = row[3].as<std::string>();
    ctx.attempts = row[4].as<int>();
    ctx.event_id = row[5].as<std::string>();
    ctx.envelope = row[6].as<std::string>();
    ctx.kind = row[7].as<std::string>();
    ctx.url = storage::pg::opt_string(row[8]);
    ctx.headers = json::parse(row[9].c_str());
    ctx.body_template = storage::pg::json_or_null(row[10]);
    ctx.settings = json::parse(row[11].c_str());
    ctx.consumer_status = row[12].as<std::string>();
    ctx.secret = row[13].as<std::string>();
    ctx.previous_secret = storage::pg::opt_string(row[14]);
    out.emplace(row[0].as<std::string>(), std::move(ctx));
  }
  return out;
}

}  // namespace

awaitable<std::optional<delivery_context>> context_loader::load(std::string delivery_id) {
  auto start = [this, id = std::move(delivery_id)](auto done) mutable {
    std::lock_guard lock(mutex_);
    queue_.push_back(pending{std::move(id), std::move(done)});
    start_locked();
  };
  return common::suspend_until<result>(std::move(start));
}

void context_loader::start_locked() {
  if (running_ || queue_.empty()) return;
  running_ = true;
  auto batch = std::make_shared<std::vector<pending>>();
  while (!queue_.empty() && batch->size() < max_batch_) {
    batch->push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  pool_.post([this, batch](pqxx::connection* c) {
    std::unordered_map<std::string, delivery_context> found;
    std::exception_ptr error;
    try {
      if (c == nullptr) throw pqxx::broken_connection("database unavailable");
      std::vector<std::string> ids;
      ids.reserve(batch->size());
      for (const auto& p : *batch) ids.push_back(p.id);
      found = load_all(*c, ids);
    } catch (...) {
      error = std::current_exception();
    }
    for (auto& p : *batch) {
      if (error) {
        p.done({error, std::nullopt});
        continue;
      }
      const auto it = found.find(p.id);
      p.done({nullptr, it == found.end() ? result() : result(it->second)});
    }
    std::lock_guard lock(mutex_);
    running_ = false;
    start_locked();
  });
}

}  // namespace psig::delivery
