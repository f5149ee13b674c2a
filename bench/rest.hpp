#pragma once
// The management API, driven synchronously before a run: a project with a high rate limit and
// connection cap, an API key, consumers and subscriptions, client tokens.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace psig::bench {

struct endpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
};
// "http://host:port[/...]" -> host and port (the path, if any, in `path`).
endpoint parse_http_url(const std::string& url, std::string* path = nullptr);

// GET target: the body of a 200 answer (throws otherwise).
std::string http_get(const endpoint& api, const std::string& target);

// One blocking request; throws std::runtime_error on a transport error or an unexpected status.
nlohmann::json rest_call(const endpoint& api, const std::string& method, const std::string& target,
                         const std::string& token, const nlohmann::json& body, int expect);

struct bench_project {
  std::string id;
  std::string key;  // every scope
};

// Deletes a project a mode made, with its deliveries and outbox rows, once the mode is measured:
// what a run left behind (retries to a receiver that is gone) must not load the next run.
class project_cleanup {
 public:
  project_cleanup(endpoint api, std::string admin_token, std::string project)
      : api_(std::move(api)), admin_token_(std::move(admin_token)), project_(std::move(project)) {}
  ~project_cleanup();
  project_cleanup(const project_cleanup&) = delete;
  project_cleanup& operator=(const project_cleanup&) = delete;

 private:
  endpoint api_;
  std::string admin_token_, project_;
};

// A fresh project named `name` whose ingest rate limit and connection cap are out of the way.
bench_project make_bench_project(const endpoint& api, const std::string& admin_token,
                                 const std::string& name);
std::string make_consumer(const endpoint& api, const bench_project& p, const nlohmann::json& spec);
void subscribe(const endpoint& api, const bench_project& p, const std::string& consumer,
               const std::string& pattern);
std::string ws_token(const endpoint& api, const bench_project& p, const std::string& user,
                     const std::string& pattern, const std::string& consumer);

}  // namespace psig::bench
