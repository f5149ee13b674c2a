// The browser example (docs/examples/realtime-client.js) under Node, against a live daemon:
// tests/js/realtime_example_test.js connects with client tokens from POST …/ws-tokens, gets a
// push, drops its connection, and must get exactly the events it missed once it is back
// (DESIGN §9; docs/websocket.md, "A browser client"). Node and the `ws` package are installed
// by scripts/test; without them this test fails rather than skips, so a green run always means
// the example was run.
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/e2e_helpers.hpp"
#include "e2e/pipeline_helpers.hpp"
#include "support/daemon.hpp"

#ifndef PSIG_SOURCE_DIR
#error "PSIG_SOURCE_DIR must name the repository root (target_compile_definitions in tests/CMakeLists.txt)"
#endif

extern char** environ;

namespace psig::e2e::pipeline {
namespace {

namespace fs = std::filesystem;

constexpr const char* install_hint =
    "run scripts/test, which installs Node.js and npm when `node` is missing and runs "
    "`npm ci --prefix tests/js`";

// Where execvp would find `name` on PATH; empty when it is nowhere.
std::string find_on_path(const std::string& name) {
  const char* env = std::getenv("PATH");
  const std::string path = env != nullptr ? env : "";
  std::size_t start = 0;
  for (;;) {
    const std::size_t colon = path.find(':', start);
    std::string dir = path.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    if (dir.empty()) dir = ".";
    const fs::path candidate = fs::path(dir) / name;
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec) && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate.string();
    }
    if (colon == std::string::npos) return {};
    start = colon + 1;
  }
}

struct child_result {
  int exit_code = -1;  // -1: killed by a signal or by the timeout
  int signal = 0;
  bool timed_out = false;
  std::string output;  // stdout and stderr, interleaved as written
};

// Runs `argv` with this process's environment plus `extra_env` (which wins), stdin from
// /dev/null and stdout + stderr into a temporary file; SIGKILL once `timeout` has passed.
child_result run_child(const std::vector<std::string>& argv,
                       const std::map<std::string, std::string>& extra_env,
                       std::chrono::milliseconds timeout) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    const auto eq = kv.find('=');
    if (eq != std::string::npos && extra_env.count(kv.substr(0, eq)) != 0) continue;
    env_strings.push_back(kv);
  }
  for (const auto& [k, v] : extra_env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (auto& a : args) argp.push_back(a.data());
  argp.push_back(nullptr);

  char out_template[] = "/tmp/psig-node-XXXXXX";
  const int out_fd = ::mkstemp(out_template);
  if (out_fd < 0) fail_setup(std::string("mkstemp: ") + std::strerror(errno));
  const std::string out_path = out_template;

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_fd, STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, out_fd);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argp[0], &actions, nullptr, argp.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_fd);
  if (rc != 0) {
    ::unlink(out_path.c_str());
    fail_setup("posix_spawn " + argv[0] + ": " + std::strerror(rc));
  }

  child_result r;
  int status = 0;
  bool reaped = false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      reaped = true;
      break;
    }
    if (w < 0 && errno != EINTR) break;  // reported as exit_code -1, never as a pass
    if (std::chrono::steady_clock::now() >= deadline) {
      r.timed_out = true;
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (reaped && WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (reaped && WIFSIGNALED(status)) r.signal = WTERMSIG(status);

  std::ifstream in(out_path);
  std::stringstream ss;
  ss << in.rdbuf();
  r.output = ss.str();
  ::unlink(out_path.c_str());
  return r;
}

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
  const json app = create_consumer(p.c(), p.id, {{"name", "app"}, {"kind", "websocket"}});
  create_subscription(p.c(), p.id, id_of(app), "chat.>");

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
