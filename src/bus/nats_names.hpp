#pragma once
// Every NATS name the daemon uses, derived from one namespace (PSIG_NATS_NAMESPACE, default
// "psig"): the default gives DESIGN §5's names; another lets several deployments (or test
// daemons on their own databases) share one NATS server without taking each other's work.
#include <algorithm>
#include <cctype>
#include <string>

namespace psig::bus {

struct nats_names {
  explicit nats_names(const std::string& ns = "psig")
      : deliveries_stream(upper(ns) + "_DELIVERIES"),
        ws_stream(upper(ns) + "_WS"),
        workers(ns + "-workers"),
        dlv_prefix(ns + ".dlv."),
        ws_prefix(ns + ".ws."),
        ctl_routes(ns + ".ctl.routes"),
        eph_prefix(ns + ".eph."),
        joins_prefix(ns + ".joins.") {}

  std::string deliveries_stream;  // PSIG_DELIVERIES: the work queue
  std::string ws_stream;          // PSIG_WS: realtime relay and history
  std::string workers;            // the durable pull consumer every node shares
  std::string dlv_prefix;         // psig.dlv.{project}.{consumer}
  std::string ws_prefix;          // psig.ws.{project}.{consumer}.{type}
  std::string ctl_routes;         // routing-cache invalidation
  std::string eph_prefix;         // psig.eph.{project}.{consumer}.{type}: ephemeral client publishes
  std::string joins_prefix;       // psig.joins.{project}.{consumer}: join/leave notices

 private:
  static std::string upper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return s;
  }
};

}  // namespace psig::bus
