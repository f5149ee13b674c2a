#include "delivery/worker_pool.hpp"

#include <random>

#include <boost/asio/strand.hpp>

#include <spdlog/spdlog.h>

#include "bus/jetstream.hpp"
#include "delivery/attempt_writer.hpp"
#include "delivery/http_client.hpp"
#include "psig/common/offload.hpp"
#include "psig/domain/body_template.hpp"
#include "psig/domain/retry_policy.hpp"
#include "psig/domain/webhook_signature.hpp"

namespace psig::delivery {
namespace {

using clock = std::chrono::system_clock;
using nlohmann::json;

double jitter_unit() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

std::vector<int> schedule_of(const delivery_context& ctx, const std::vector<int>& fallback) {
  const auto it = ctx.settings.find("retry_schedule");
  if (it == ctx.settings.end() || !it->is_array()) return fallback;
  return it->get<std::vector<int>>();
}

template <class T>
T setting(const delivery_context& ctx, const char* key, T fallback) {
  const auto it = ctx.settings.find(key);
  return it == ctx.settings.end() ? fallback : it->get<T>();
}

}  // namespace

worker_pool::worker_pool(asio::io_context& ioc, asio::thread_pool& blocking, storage::pg_pool& pool,
                         bus::jetstream& js, http_delivery_client& http, attempt_writer& writer,
                         common::metrics_registry& metrics, worker_settings settings)
    : ioc_(ioc), blocking_(blocking), loader_(pool), js_(js), http_(http), writer_(writer),
      metrics_(metrics), settings_(std::move(settings)) {}


void worker_pool::start() {
  std::lock_guard lock(mutex_);
  if (stopping_ || fetcher_.joinable()) return;
  fetcher_ = std::thread([this] { fetch_loop(); });
}

void worker_pool::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  slot_free_.notify_all();
}

void worker_pool::join() {
  stop();
  if (fetcher_.joinable()) fetcher_.join();
}

worker_pool::~worker_pool() { join(); }

// nats.c's fetch blocks: it runs on its own thread and hands messages to coroutines.
void worker_pool::fetch_loop() {
  while (!stopping_) {
    std::size_t free = 0;
    {
      std::unique_lock lock(mutex_);
      slot_free_.wait_for(lock, std::chrono::milliseconds(200), [this] {
        return stopping_ || in_flight_ < settings_.max_concurrency;
      });
      if (stopping_) return;
      free = settings_.max_concurrency - in_flight_;
    }
    if (free == 0) continue;
    auto msgs = js_.fetch(static_cast<int>(std::min<std::size_t>(free, 256)), std::chrono::milliseconds(500));
    for (auto& m : msgs) {
      ++in_flight_;
      std::shared_ptr<bus::work_message> shared(std::move(m));
      asio::co_spawn(asio::make_strand(ioc_), [this, shared] { return handle(shared); }, asio::detached);
    }
  }
}

void worker_pool::finished(const std::string& consumer_id) {
  {
    std::lock_guard lock(mutex_);
    if (!consumer_id.empty() && --per_consumer_[consumer_id] <= 0) per_consumer_.erase(consumer_id);
  }
  --in_flight_;
  slot_free_.notify_one();
}

awaitable<void> worker_pool::handle(std::shared_ptr<bus::work_message> msg) {
  std::string counted_consumer;  // set once this attempt holds a per-consumer slot
  bool failed = false;
  auto answer = [this, msg](bool ack, std::chrono::milliseconds delay) {
    // An ack is a network write that may block on a full buffer: not on an I/O thread.
    auto send = [msg, ack, delay] {
      if (ack) msg->ack();
      else msg->nak(delay);
      return true;
    };
    return common::offload(blocking_, std::move(send));
  };
  try {
    const auto payload = json::parse(msg->data(), nullptr, false);
    if (!payload.is_object() || !payload.contains("d") || !payload.contains("a")) {
      spdlog::warn("worker: dropping malformed message on {}", msg->subject());
      co_await answer(true, {});
      finished({});
      co_return;
    }
    const std::string delivery_id = payload["d"].get<std::string>();
    const int attempt = payload["a"].get<int>();
    // {ns}.dlv.{project}.{consumer}
    const std::string subject_consumer = msg->subject().substr(msg->subject().rfind('.') + 1);
    bool at_cap = false;
    {
      std::lock_guard lock(mutex_);
      const auto cap = known_cap_.find(subject_consumer);
      const auto n = per_consumer_.find(subject_consumer);
      at_cap = cap != known_cap_.end() && n != per_consumer_.end() && n->second >= cap->second;
    }
    if (at_cap) {
      co_await answer(false, std::chrono::milliseconds(1000));
      finished({});
      co_return;
    }
    auto ctx = co_await loader_.load(delivery_id);
    if (!ctx || ctx->attempts >= attempt || ctx->status == "succeeded" || ctx->status == "dead" ||
        ctx->status == "discarded") {
      co_await answer(true, {});  // deleted, or this attempt is already recorded: nothing to do
      finished({});
      co_return;
    }
    {
      std::lock_guard lock(mutex_);
      auto& n = per_consumer_[ctx->consumer_id];
      const int cap = setting(*ctx, "max_in_flight", settings_.default_max_in_flight);
      known_cap_[ctx->consumer_id] = cap;
      if (n >= cap) {
        counted_consumer.clear();
      } else {
        ++n;
        counted_consumer = ctx->consumer_id;
      }
    }
    if (counted_consumer.empty()) {
      // This consumer has enough attempts running: let JetStream hand it out again shortly.
      co_await answer(false, std::chrono::milliseconds(1000));
      finished({});
      co_return;
    }
    if (const double rate = setting<double>(*ctx, "rate_limit_per_second", 0); rate > 0 && settings_.rate_gate) {
      const int wait_ms = co_await settings_.rate_gate(ctx->consumer_id, rate);
      if (wait_ms > 0) {
        co_await answer(false, std::chrono::milliseconds(wait_ms));
        finished(counted_consumer);
        co_return;
      }
    }

    attempt_outcome out;
    out.project_id = ctx->project_id;
    out.delivery_id = delivery_id;
    out.consumer_id = ctx->consumer_id;
    out.attempt = attempt;
    out.started_at = clock::now();
    if (ctx->consumer_status != "enabled" || !ctx->url) {
      out.error_class = "consumer_disabled";
      out.error = "the consumer is disabled";
      out.new_status = "dead";
    } else {
      http_attempt_request request;
      request.url = *ctx->url;
      request.timeout = std::chrono::milliseconds(
          setting<long long>(*ctx, "timeout_ms", settings_.default_timeout.count()));
      if (ctx->body_template.is_null()) {
        request.body = ctx->envelope;
      } else {
        const auto rendered = domain::render_template(ctx->body_template, json::parse(ctx->envelope));
        request.body = rendered.dump(-1, ' ', false, json::error_handler_t::replace);
      }
      for (const auto& [k, v] : ctx->headers.items()) request.headers.emplace_back(k, v.get<std::string>());
      const auto ts = std::chrono::duration_cast<std::chrono::seconds>(clock::now().time_since_epoch()).count();
      std::vector<std::string> secrets{ctx->secret};
      if (ctx->previous_secret) secrets.push_back(*ctx->previous_secret);
      request.headers.emplace_back("webhook-id", ctx->event_id);
      request.headers.emplace_back("webhook-timestamp", std::to_string(ts));
      request.headers.emplace_back("webhook-signature",
                                   domain::signature_header(secrets, ctx->event_id, ts, request.body));
      auto result = co_await http_.post(std::move(request));
      out.duration_ms = static_cast<int>(result.duration.count());
      out.status_code = result.status_code;
      out.error_class = result.error_class;
      out.error = result.error;
      out.response_body = std::move(result.body);
      metrics_.get_histogram("psig_attempt_duration_seconds", "delivery attempt latency")
          .observe(static_cast<double>(result.duration.count()) / 1000.0);
      if (result.error_class == "ssrf_blocked") {
        metrics_.get_counter("psig_ssrf_refusals_total", "connections refused by the SSRF guard").inc();
      }
      switch (domain::classify_attempt(result.status_code)) {
        case domain::attempt_verdict::succeeded:
          out.new_status = "succeeded";
          break;
        case domain::attempt_verdict::disable:
          out.new_status = "dead";
          out.disable_consumer = true;
          out.disable_reason = "the receiver answered 410 Gone";
          break;
        case domain::attempt_verdict::retry: {
          std::optional<std::chrono::seconds> retry_after;
          if (result.retry_after && (result.status_code == 429 || result.status_code == 503)) {
            retry_after = domain::parse_retry_after(*result.retry_after, clock::now());
          }
          const auto next = domain::next_retry(schedule_of(*ctx, settings_.retry_schedule), attempt,
                                               retry_after, jitter_unit());
          if (next.give_up) {
            out.new_status = "dead";
          } else {
            out.new_status = "retrying";
            out.next_at = clock::now() + next.delay;
          }
          break;
        }
      }
    }
    const std::string result = out.new_status;
    const bool recorded = co_await writer_.record(std::move(out));
    if (recorded) metrics_.get_counter("psig_attempts_total", "delivery attempts by outcome", {{"result", result}})
        .inc();
    if (!recorded) {
      // A redelivered message whose attempt another worker recorded first: nothing to count.
    } else if (result == "retrying") {
      metrics_.get_counter("psig_retries_scheduled_total", "failed attempts with a retry scheduled").inc();
    } else if (result == "dead") {
      metrics_.get_counter("psig_dead_letters_total", "deliveries that became dead").inc();
    }
    co_await answer(true, {});
  } catch (const std::exception& e) {
    spdlog::warn("worker: {} failed: {}", msg->subject(), e.what());
    failed = true;
  }
  if (failed) {
    // The database is unhappy: JetStream hands the message out again a little later.
    try {
      co_await answer(false, std::chrono::milliseconds(5000));
    } catch (const std::exception&) {
      // Unanswered, the message comes back after AckWait anyway.
    }
  }
  finished(counted_consumer);
}

}  // namespace psig::delivery
