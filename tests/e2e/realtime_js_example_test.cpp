// The browser example (docs/examples/realtime-client.js) under Node, against a live daemon:
// tests/js/realtime_example_test.js connects with client tokens from POST …/ws-tokens, gets a
// push, drops its connection, and must get exactly the events it missed once it is back
// (DESIGN §9; docs/websocket.md, "A browser client"). Node and the `ws` package are installed
// by scripts/test; without them this test fails rather than skips, so a green run always means
// the example was run.
#include <chrono>
#include <filesystem>
#include <string>


#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/e2e_helpers.hpp"
#include "e2e/pipeline_helpers.hpp"
#include "e2e/realtime_helpers.hpp"
#include "support/child_process.hpp"
#include "support/daemon.hpp"

#ifndef PSIG_SOURCE_DIR
#error "PSIG_SOURCE_DIR must name the repository root (target_compile_definitions in tests/CMakeLists.txt)"
#endif

namespace psig::e2e::pipeline {
namespace {

namespace fs = std::filesystem;
using test::child_result;
using test::find_on_path;
using test::run_child;

constexpr const char* install_hint =
    "run scripts/test, which installs Node.js and npm when `node` is missing and runs "
    "`npm ci --prefix tests/js`";

// The end of the daemon's log, which explains most failures of the script.
std::string tail_of(const std::string& s, std::size_t n = 4000) {
  return s.size() <= n ? s : "…" + s.substr(s.size() - n);
}

class RealtimeJsExample : public pipeline_suite<RealtimeJsExample> {};

TEST_F(RealtimeJsExample, NodeClientReconnectsAndRecoversExactlyTheMissedEvents) {
  const fs::path root = PSIG_SOURCE_DIR;
  const fs::path script = root / "tests/js/realtime_example_test.js";
  const std::string node = find_on_path("node");
  ASSERT_FALSE(node.empty()) << "`node` is not on PATH: " << install_hint;
  ASSERT_TRUE(fs::is_directory(root / "tests/js/node_modules/ws"))
      << (root / "tests/js/node_modules/ws").string() << " is missing: " << install_hint;
  ASSERT_TRUE(fs::is_regular_file(script)) << script.string() << " is missing";

  // As the script expects: one websocket consumer (so ws-tokens need not name it), fed chat.>.
  project p = make_project(daemon(), "js-example");
  make_realtime_app(p, "chat.>");

  // The script gives up by itself after 30 s; 60 s covers a slow start of node under load.
  const child_result r = run_child({node, script.string()},
                                   {{"PSIG_API", "http://127.0.0.1:" + std::to_string(daemon().port())},
                                    {"PSIG_PROJECT", p.id},
                                    {"PSIG_KEY", p.key}},
                                   std::chrono::seconds(60));
  EXPECT_FALSE(r.timed_out) << "node " << script.string() << " ran for over 60 s and was killed; output:\n"
                            << r.output;
  EXPECT_EQ(r.exit_code, 0) << "node " << script.string() << " failed (exit " << r.exit_code
                            << (r.signal != 0 ? ", signal " + std::to_string(r.signal) : std::string())
                            << "); its output:\n"
                            << r.output << "\nthe daemon's log (end):\n"
                            << tail_of(daemon().output());
  EXPECT_TRUE(daemon().running()) << "the daemon must survive the client's drop and reconnect";
}

}  // namespace
}  // namespace psig::e2e::pipeline
