// psig-bench: the load generator of the published benchmark (docs/benchmarks.md). One mode per
// run; human-readable lines on stderr, and one line `RESULT {json}` on stdout for scripts/bench.
//
//   psig-bench sink    --listen 127.0.0.1:PORT [--threads 1]
//   psig-bench http    [--url self|http://127.0.0.1:PORT/ --connections 64 --duration-ms 10000 --size 500]
//   psig-bench ingest  --api URL --admin-token T [--connections 64 --duration-ms 10000 --size 500]
//   psig-bench e2e     --api URL --admin-token T [--rate 1000 --duration-ms 10000 --connections 16]
//   psig-bench deliver --api URL --admin-token T [--events 20000]
//   psig-bench ws      --api URL --admin-token T [--clients 1000 --rate 200 --duration-ms 10000 --window 1000]
//   psig-bench ws      --peer nchan|pushpin --sub-url ws://… --pub-url http://… [same]
//   psig-bench ws-idle --api URL --admin-token T --pid DAEMON_PID [--clients 10000]
// Every target must be on loopback.
#include <sys/resource.h>

#include <csignal>
#include <iostream>
#include <string>

#include "modes.hpp"
#include "options.hpp"

int main(int argc, char** argv) {
  using namespace psig::bench;
  // Thousands of sockets: take the hard limit of open files.
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  std::signal(SIGPIPE, SIG_IGN);
  if (argc < 2) options::fail("usage: psig-bench sink|http|ingest|e2e|deliver|ws|ws-idle [--option value ...]");
  const std::string mode = argv[1];
  options opts(argc, argv, 2);
  try {
    nlohmann::json result;
    if (mode == "sink") result = run_sink(opts);
    else if (mode == "http") result = run_http(opts);
    else if (mode == "ingest") result = run_ingest(opts);
    else if (mode == "e2e") result = run_e2e(opts);
    else if (mode == "deliver") result = run_deliver(opts);
    else if (mode == "ws") result = run_ws(opts);
    else if (mode == "ws-idle") result = run_ws_idle(opts);
    else options::fail("unknown mode " + mode);
    result["mode"] = mode;
    std::cout << "RESULT " << result.dump() << std::endl;
    return result.value("ok", true) ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "psig-bench " << mode << ": " << e.what() << "\n";
    return 1;
  }
}
