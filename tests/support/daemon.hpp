#pragma once
// The projectsignal binary as a child process on a free loopback port, for end-to-end tests.
#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include <sys/types.h>

namespace psig::test {

struct daemon_options {
  // Extra or overriding environment variables. By default the daemon gets a fresh database
  // (create_database), PSIG_NATS_URL/PSIG_REDIS_URL from the test servers, a free
  // PSIG_LISTEN port, PSIG_ADMIN_TOKEN = admin_token below and PSIG_LOG_LEVEL=warn.
  std::map<std::string, std::string> env;
  std::string admin_token = "psig_test_admin_token_0123456789";
  bool wait_ready = true;  // wait until GET /healthz answers (10 s at most)
};

class daemon_process {
 public:
  explicit daemon_process(daemon_options opts = {});
  ~daemon_process();  // SIGKILL if still running, drops the database it created
  daemon_process(const daemon_process&) = delete;
  daemon_process& operator=(const daemon_process&) = delete;

  std::uint16_t port() const { return port_; }
  const std::string& admin_token() const { return admin_token_; }
  const std::string& database_url() const { return database_url_; }
  pid_t pid() const { return pid_; }

  // SIGTERM, then waits up to `timeout`; returns the exit code (-1 on timeout or a signal).
  int stop(std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // Waits for the process to exit on its own (e.g. a config error); returns its exit code.
  int wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(15));
  bool running();
  // What the daemon wrote to stdout and stderr so far.
  std::string output() const;

 private:
  std::uint16_t port_ = 0;
  std::string admin_token_;
  std::string database_url_;
  bool own_database_ = false;
  std::string log_path_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
  bool exited_ = false;
};

// Path of the binary under test (PSIG_BIN, else the build tree's).
std::string daemon_path();

}  // namespace psig::test
