// The SSRF guard end to end (DESIGN §8): without an operator allow-list the delivery client
// refuses loopback however the URL spells it — dotted, short, decimal, IPv6, v4-mapped, the
// unspecified address, a host name — after resolution, before connecting. Only loopback
// addresses are used here; the other non-global ranges are covered by the address classifier's
// unit tests, which connect nowhere.
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/e2e_helpers.hpp"
#include "e2e/pipeline_helpers.hpp"
#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/receiver.hpp"

namespace psig::e2e::pipeline {
namespace {

TEST(PipelineSsrf, LoopbackIsRefusedWithoutAnAllowList) {
  test::daemon_options opts;  // deliberately no PSIG_SSRF_ALLOW
  opts.env["PSIG_RETRY_SCHEDULE"] = "0";  // one immediate retry, then dead
  opts.env["PSIG_RELAY_POLL_MS"] = "50";
  test::daemon_process d(opts);

  receiver v4("127.0.0.1");
  // A host without IPv6 loopback cannot listen on ::1; the URL is refused before any connect
  // either way, so the case stays (with nothing to count on that side).
  std::unique_ptr<receiver> v6;
  try {
    v6 = std::make_unique<receiver>("::1");
  } catch (const std::exception& e) {
    std::cout << "no IPv6 loopback here (" << e.what() << "): [::1] is checked without a listener\n";
  }
  const std::string p4 = std::to_string(v4.port());
  const std::string p6 = v6 ? std::to_string(v6->port()) : p4;
  const std::vector<std::string> urls{
      "http://127.0.0.1:" + p4 + "/",
      "http://127.1:" + p4 + "/",
      "http://2130706433:" + p4 + "/",
      "http://[::1]:" + p6 + "/",
      "http://[::ffff:127.0.0.1]:" + p4 + "/",
      "http://0.0.0.0:" + p4 + "/",
      "http://localhost:" + p4 + "/",
  };

  auto p = make_project(d, "ssrf");
  std::map<std::string, std::string> url_of;  // consumer id -> URL
  for (std::size_t i = 0; i < urls.size(); ++i) {
    const hook h = make_webhook(p, "target " + std::to_string(i), urls[i]);
    url_of[h.id] = urls[i];
    create_subscription(p.c(), p.id, h.id, ">");
  }
  json accepted = post_event(p, {{"type", "probe.sent"}, {"data", {{"n", 1}}}});
  EXPECT_EQ(accepted["deliveries"], urls.size());
  const json list = deliveries_of(p, accepted["id"].get<std::string>());
  ASSERT_EQ(list.size(), urls.size()) << list;

  for (const auto& entry : list) {
    const std::string dlv = entry.at("id").get<std::string>();
    const std::string url = url_of[entry.at("consumer_id").get<std::string>()];
    SCOPED_TRACE(url);
    json dl = wait_delivery(p, dlv, {"dead"});
    ASSERT_TRUE(status_in(dl, {"dead"})) << dl;
    ASSERT_EQ(dl["attempts"].size(), 2u) << dl;
    for (auto& a : dl["attempts"]) {
      EXPECT_EQ(a["error_class"], "ssrf_blocked") << a;
      EXPECT_TRUE(a["status_code"].is_null()) << a;
    }
  }

  EXPECT_EQ(v4.count(), 0u) << "a request reached the IPv4 loopback receiver";
  EXPECT_EQ(v4.connections(), 0u) << "a connection reached the IPv4 loopback receiver";
  if (v6) {
    EXPECT_EQ(v6->count(), 0u) << "a request reached the IPv6 loopback receiver";
    EXPECT_EQ(v6->connections(), 0u) << "a connection reached the IPv6 loopback receiver";
  }
}

}  // namespace
}  // namespace psig::e2e::pipeline
