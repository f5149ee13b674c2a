#include "bus/jetstream.hpp"

#include <mutex>
#include <set>

#include <nats/nats.h>
#include <spdlog/spdlog.h>

#include "bus/ws_message.hpp"

namespace psig::bus {
namespace {

constexpr std::int64_t ns_per_s = 1'000'000'000;

}  // namespace

work_message::work_message(natsMsg* m) : msg_(m) {
  subject_ = natsMsg_GetSubject(m);
  data_.assign(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m)));
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, m) == NATS_OK && meta != nullptr) {
    delivered_ = meta->NumDelivered;
    jsMsgMetaData_Destroy(meta);
  }
}

work_message::~work_message() { natsMsg_Destroy(msg_); }

void work_message::ack() { natsMsg_Ack(msg_, nullptr); }

void work_message::nak(std::chrono::milliseconds delay) {
  natsMsg_NakWithDelay(msg_, delay.count(), nullptr);
}

struct jetstream::impl {
  impl(nats_client& c, stream_settings s) : client(c), settings(s) {}
  nats_client& client;
  stream_settings settings;
  jsCtx* js = nullptr;
  natsSubscription* sub = nullptr;
  natsSubscription* ws_sub = nullptr;
  std::function<void(ws_event)> on_ws_event;

  ws_event to_ws_event(natsMsg* msg, std::uint64_t* pending = nullptr) const {
    return take_ws_event(msg, settings.names.ws_prefix, pending);
  }

  static void on_ws_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    auto* self = static_cast<impl*>(closure);
    auto e = self->to_ws_event(msg);
    if (!e.type.empty()) self->on_ws_event(std::move(e));
  }
  std::mutex publish_mutex;  // one publish_all at a time: it waits for *all* pending acks
  std::mutex failed_mutex;
  std::set<std::string> failed;  // msg ids the server refused

  static void on_publish_error(jsCtx*, jsPubAckErr* pae, void* closure) {
    auto* self = static_cast<impl*>(closure);
    std::lock_guard lock(self->failed_mutex);
    self->failed.insert(message_header(pae->Msg, "Nats-Msg-Id"));
  }
};

jetstream::jetstream(nats_client& client, stream_settings settings)
    : impl_(std::make_unique<impl>(client, settings)) {
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = 5000;
  o.PublishAsync.ErrHandler = &impl::on_publish_error;
  o.PublishAsync.ErrHandlerClosure = impl_.get();
  o.PublishAsync.MaxPending = 4096;
  if (client.connection() == nullptr ||
      natsConnection_JetStream(&impl_->js, client.connection(), &o) != NATS_OK) {
    impl_->js = nullptr;
  }
}

jetstream::~jetstream() {
  if (impl_->ws_sub != nullptr) {
    natsSubscription_Unsubscribe(impl_->ws_sub);
    natsSubscription_Destroy(impl_->ws_sub);
  }
  if (impl_->sub != nullptr) natsSubscription_Destroy(impl_->sub);
  if (impl_->js != nullptr) jsCtx_Destroy(impl_->js);
}

bool jetstream::ensure() {
  if (impl_->js == nullptr) return false;
  auto upsert = [&](jsStreamConfig& cfg) {
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_AddStream(&si, impl_->js, &cfg, nullptr, &jerr);
    if (s != NATS_OK && jerr == JSStreamNameExistErr) s = js_UpdateStream(&si, impl_->js, &cfg, nullptr, &jerr);
    if (si != nullptr) jsStreamInfo_Destroy(si);
    if (s != NATS_OK) {
      spdlog::warn("JetStream stream {}: {} ({})", cfg.Name, natsStatus_GetText(s), static_cast<int>(jerr));
    }
    return s == NATS_OK;
  };
  const auto& names = impl_->settings.names;
  const std::string dlv_filter = names.dlv_prefix + ">", ws_filter = names.ws_prefix + ">";
  const char* dlv_subjects[] = {dlv_filter.c_str()};
  jsStreamConfig dlv;
  jsStreamConfig_Init(&dlv);
  dlv.Name = names.deliveries_stream.c_str();
  dlv.Subjects = dlv_subjects;
  dlv.SubjectsLen = 1;
  dlv.Retention = js_WorkQueuePolicy;
  dlv.Storage = js_FileStorage;
  dlv.Duplicates = 120 * ns_per_s;
  const char* ws_subjects[] = {ws_filter.c_str()};
  jsStreamConfig ws;
  jsStreamConfig_Init(&ws);
  ws.Name = names.ws_stream.c_str();
  ws.Subjects = ws_subjects;
  ws.SubjectsLen = 1;
  ws.Retention = js_LimitsPolicy;
  ws.Storage = js_FileStorage;
  ws.MaxAge = impl_->settings.ws_max_age.count() * ns_per_s;
  ws.MaxMsgs = impl_->settings.ws_max_msgs;
  ws.Duplicates = 120 * ns_per_s;
  if (!upsert(dlv) || !upsert(ws)) return false;

  if (impl_->sub == nullptr) {
    // Create or update the shared consumer first, then bind to it: a node whose AckWait differs
    // from the one that created the consumer must not be refused (the last start wins).
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = names.workers.c_str();
    cc.AckPolicy = js_AckExplicit;
    cc.AckWait = impl_->settings.ack_wait.count() * ns_per_s;
    cc.MaxAckPending = 20'000;
    cc.MaxDeliver = -1;  // PostgreSQL decides when a delivery is dead, not JetStream
    cc.FilterSubject = dlv_filter.c_str();
    jsConsumerInfo* ci = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_AddConsumer(&ci, impl_->js, names.deliveries_stream.c_str(), &cc, nullptr, &jerr);
    if (s != NATS_OK && jerr == JSConsumerNameExistErr) {
      s = js_UpdateConsumer(&ci, impl_->js, names.deliveries_stream.c_str(), &cc, nullptr, &jerr);
    }
    if (ci != nullptr) jsConsumerInfo_Destroy(ci);
    if (s != NATS_OK) {
      spdlog::warn("JetStream consumer {}: {} ({})", names.workers, natsStatus_GetText(s), static_cast<int>(jerr));
      return false;
    }
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = names.deliveries_stream.c_str();
    so.Consumer = names.workers.c_str();
    s = js_PullSubscribe(&impl_->sub, impl_->js, dlv_filter.c_str(), names.workers.c_str(), nullptr,
                         &so, &jerr);
    if (s != NATS_OK) {
      spdlog::warn("JetStream pull subscription: {} ({})", natsStatus_GetText(s), static_cast<int>(jerr));
      impl_->sub = nullptr;
      return false;
    }
  }
  return true;
}

std::vector<bool> jetstream::publish_all(const std::vector<outgoing_message>& msgs,
                                         std::chrono::milliseconds timeout) {
  std::vector<bool> ok(msgs.size(), false);
  if (impl_->js == nullptr || msgs.empty()) return ok;
  std::lock_guard lock(impl_->publish_mutex);
  {
    std::lock_guard f(impl_->failed_mutex);
    impl_->failed.clear();
  }
  std::vector<bool> sent(msgs.size(), false);
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    natsMsg* m = nullptr;
    if (natsMsg_Create(&m, msgs[i].subject.c_str(), nullptr, msgs[i].payload.data(),
                       static_cast<int>(msgs[i].payload.size())) != NATS_OK) {
      continue;
    }
    natsMsgHeader_Set(m, "Nats-Msg-Id", msgs[i].msg_id.c_str());
    if (!msgs[i].to_users.empty()) natsMsgHeader_Set(m, to_users_header, msgs[i].to_users.c_str());
    if (js_PublishMsgAsync(impl_->js, &m, nullptr) == NATS_OK) sent[i] = true;
    natsMsg_Destroy(m);  // null after a successful hand-over; freed otherwise
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = timeout.count();
  if (js_PublishAsyncComplete(impl_->js, &po) != NATS_OK) {
    // Timed out: whatever is still pending counts as failed (a retry is deduplicated anyway).
    natsMsgList pending{};
    if (js_PublishAsyncGetPendingList(&pending, impl_->js) == NATS_OK) {
      std::lock_guard f(impl_->failed_mutex);
      for (int i = 0; i < pending.Count; ++i) impl_->failed.insert(message_header(pending.Msgs[i], "Nats-Msg-Id"));
      natsMsgList_Destroy(&pending);
    }
  }
  std::lock_guard f(impl_->failed_mutex);
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    ok[i] = sent[i] && impl_->failed.count(msgs[i].msg_id) == 0;
  }
  return ok;
}

std::vector<std::unique_ptr<work_message>> jetstream::fetch(int batch,
                                                            std::chrono::milliseconds wait) {
  std::vector<std::unique_ptr<work_message>> out;
  if (impl_->sub == nullptr) return out;
  natsMsgList list{};
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const natsStatus s = natsSubscription_Fetch(&list, impl_->sub, batch, wait.count(), &jerr);
  if (s != NATS_OK) return out;  // NATS_TIMEOUT when the queue is empty
  for (int i = 0; i < list.Count; ++i) {
    out.push_back(std::make_unique<work_message>(list.Msgs[i]));
    list.Msgs[i] = nullptr;  // owned by the work_message now
  }
  natsMsgList_Destroy(&list);
  return out;
}

}  // namespace psig::bus

namespace psig::bus {

bool jetstream::subscribe_ws(std::function<void(ws_event)> on_event) {
  if (impl_->js == nullptr || impl_->ws_sub != nullptr) return impl_->ws_sub != nullptr;
  impl_->on_ws_event = std::move(on_event);
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = impl_->settings.names.ws_stream.c_str();
  so.Ordered = true;  // gap-free and in order; recreated by nats.c after a disconnect
  so.Config.DeliverPolicy = js_DeliverNew;
  const std::string filter = impl_->settings.names.ws_prefix + ">";
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const natsStatus s = js_Subscribe(&impl_->ws_sub, impl_->js, filter.c_str(), &impl::on_ws_message,
                                    impl_.get(), nullptr, &so, &jerr);
  if (s != NATS_OK) {
    spdlog::warn("realtime subscription: {} ({})", natsStatus_GetText(s), static_cast<int>(jerr));
    impl_->ws_sub = nullptr;
    return false;
  }
  return true;
}

std::optional<ws_stream_state> jetstream::ws_state() {
  if (impl_->js == nullptr) return std::nullopt;
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  if (js_GetStreamInfo(&si, impl_->js, impl_->settings.names.ws_stream.c_str(), nullptr, &jerr) !=
          NATS_OK ||
      si == nullptr) {
    return std::nullopt;
  }
  ws_stream_state st{std::to_string(si->Created), si->State.FirstSeq, si->State.LastSeq};
  jsStreamInfo_Destroy(si);
  return st;
}

}  // namespace psig::bus

namespace psig::bus {

const nats_names& jetstream::names() const { return impl_->settings.names; }

std::optional<std::vector<ws_event>> jetstream::ws_history(
    const std::string& subject_filter, std::uint64_t from, std::uint64_t to, std::size_t max,
    const std::function<bool(const ws_event&)>& keep) {
  std::vector<ws_event> out;
  if (from > to) return out;
  const auto state = ws_state();
  if (!state || state->first_offset > from) return std::nullopt;  // the gap is gone
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = impl_->settings.names.ws_stream.c_str();
  so.Ordered = true;
  so.Config.DeliverPolicy = js_DeliverByStartSequence;
  so.Config.OptStartSeq = from;
  natsSubscription* sub = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  if (js_SubscribeSync(&sub, impl_->js, subject_filter.c_str(), nullptr, &so, &jerr) != NATS_OK) {
    return std::nullopt;
  }
  std::optional<std::vector<ws_event>> result;
  for (;;) {
    natsMsg* msg = nullptr;
    // Nothing stored on the filter from `from` on: the (empty) history is complete.
    if (natsSubscription_NextMsg(&msg, sub, 300) != NATS_OK) {
      result = std::move(out);
      break;
    }
    std::uint64_t pending = 0;
    auto e = impl_->to_ws_event(msg, &pending);
    if (e.offset > to) {
      result = std::move(out);
      break;
    }
    if (keep(e)) {
      if (out.size() == max) break;  // more than the client may recover: say so
      out.push_back(std::move(e));
    }
    if (pending == 0 || out.size() > max) {
      result = std::move(out);
      break;
    }
  }
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
  return result;
}

}  // namespace psig::bus
