#pragma once
// The modes of psig-bench; each returns the fields of its RESULT line ("ok": false on a check
// that failed, such as a lost message).
#include <nlohmann/json.hpp>

#include "options.hpp"

namespace psig::bench {

nlohmann::json run_sink(options& o);
nlohmann::json run_http(options& o);
nlohmann::json run_ingest(options& o);
nlohmann::json run_e2e(options& o);
nlohmann::json run_deliver(options& o);
nlohmann::json run_ws(options& o);
nlohmann::json run_ws_idle(options& o);

}  // namespace psig::bench
