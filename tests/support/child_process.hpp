#pragma once
// A child process for end-to-end tests (node, psig-bench): run to completion with a timeout,
// its output kept.
#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace psig::test {

// Where execvp would find `name` on PATH; empty when it is nowhere.
std::string find_on_path(const std::string& name);

struct child_result {
  int exit_code = -1;  // -1: killed by a signal or by the timeout
  int signal = 0;
  bool timed_out = false;
  std::string output;  // stdout and stderr, interleaved as written
};

// Runs `argv` with this process's environment plus `extra_env` (which wins), stdin from
// /dev/null and stdout + stderr into a temporary file; SIGKILL once `timeout` has passed.
// Throws std::runtime_error when it cannot be started.
child_result run_child(const std::vector<std::string>& argv,
                       const std::map<std::string, std::string>& extra_env,
                       std::chrono::milliseconds timeout);

}  // namespace psig::test
