#include "bus/nats_client.hpp"

#include <nats/nats.h>
#include <spdlog/spdlog.h>

namespace psig::bus {
namespace {

void on_disconnected(natsConnection*, void* closure) {
  // Our own close() disconnects too: that one is not news.
  if (!static_cast<nats_client*>(closure)->closing()) spdlog::warn("NATS disconnected; reconnecting");
}
void on_nats_reconnected(natsConnection*, void* closure) {
  spdlog::info("NATS reconnected");
  static_cast<nats_client*>(closure)->reconnected();
}
void on_connected(natsConnection*, void*) { spdlog::info("NATS connected"); }

}  // namespace

nats_client::nats_client(const std::string& url, const std::string& name,
                         std::function<void()> on_reconnected)
    : on_reconnected_(std::move(on_reconnected)) {
  natsOptions_Create(&opts_);
  natsOptions_SetURL(opts_, url.c_str());
  natsOptions_SetName(opts_, name.c_str());
  natsOptions_SetMaxReconnect(opts_, -1);  // never give up: NATS restarts must not need us
  natsOptions_SetReconnectWait(opts_, 500);
  natsOptions_SetTimeout(opts_, 2000);
  // A server that is down at start-up is retried in the background like a lost one.
  natsOptions_SetRetryOnFailedConnect(opts_, true, on_connected, nullptr);
  natsOptions_SetDisconnectedCB(opts_, on_disconnected, this);
  natsOptions_SetReconnectedCB(opts_, on_nats_reconnected, this);
  const natsStatus s = natsConnection_Connect(&conn_, opts_);
  if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
    spdlog::error("NATS connect to {} failed: {}", url, natsStatus_GetText(s));
    return;
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 1000;
  if (natsConnection_JetStream(&js_, conn_, &jo) != NATS_OK) js_ = nullptr;
}

nats_client::~nats_client() {
  close();
  natsOptions_Destroy(opts_);
}

void nats_client::close() {
  closing_ = true;
  if (js_ != nullptr) jsCtx_Destroy(js_);
  js_ = nullptr;
  if (conn_ != nullptr) {
    natsConnection_Close(conn_);
    natsConnection_Destroy(conn_);
  }
  conn_ = nullptr;
}

std::string nats_client::probe() {
  if (conn_ == nullptr) return "no connection";
  if (natsConnection_Status(conn_) != NATS_CONN_STATUS_CONNECTED) return "disconnected";
  if (js_ == nullptr) return "no JetStream context";
  jsAccountInfo* info = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const natsStatus s = js_GetAccountInfo(&info, js_, nullptr, &jerr);
  if (s != NATS_OK) return std::string("JetStream unavailable: ") + natsStatus_GetText(s);
  jsAccountInfo_Destroy(info);
  return "ok";
}

}  // namespace psig::bus
