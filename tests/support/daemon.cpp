#include "support/daemon.hpp"

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/http_client.hpp"
#include "support/test_env.hpp"

extern char** environ;

namespace psig::test {

std::string daemon_path() {
  if (const char* p = std::getenv("PSIG_BIN"); p != nullptr && *p != '\0') return p;
#ifdef PSIG_DAEMON_PATH
  return PSIG_DAEMON_PATH;
#else
  return required_env("PSIG_BIN");
#endif
}

daemon_process::daemon_process(daemon_options opts) : admin_token_(opts.admin_token) {
  std::map<std::string, std::string> env;
  // The test's own PSIG_* (scripts/test exports the private servers' URLs) must not leak in:
  // each daemon gets exactly what the test decides.
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    const auto eq = kv.find('=');
    if (eq == std::string::npos || kv.rfind("PSIG_", 0) == 0) continue;
    env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  port_ = free_port();
  env["PSIG_LISTEN"] = "127.0.0.1:" + std::to_string(port_);
  env["PSIG_NATS_URL"] = nats_url();
  env["PSIG_REDIS_URL"] = redis_url();
  env["PSIG_ADMIN_TOKEN"] = admin_token_;
  env["PSIG_LOG_LEVEL"] = "warn";
  env["PSIG_DATABASE_POOL_SIZE"] = "4";
  for (const auto& [k, v] : opts.env) env[k] = v;
  if (opts.env.count("PSIG_DATABASE_URL") == 0) {
    database_url_ = create_database();
    own_database_ = true;
    env["PSIG_DATABASE_URL"] = database_url_;
  } else {
    database_url_ = opts.env.at("PSIG_DATABASE_URL");
  }
  // Daemons on different databases must not share NATS work queues; two on one database
  // (a restart, a second node) must.
  if (opts.env.count("PSIG_NATS_NAMESPACE") == 0) {
    std::string ns = "t";
    for (char c : database_url_.substr(database_url_.rfind('/') + 1)) {
      if (std::isalnum(static_cast<unsigned char>(c))) ns += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    env["PSIG_NATS_NAMESPACE"] = ns.substr(0, 32);
  }
  if (opts.env.count("PSIG_LISTEN") != 0) {
    const auto& l = opts.env.at("PSIG_LISTEN");
    const auto colon = l.rfind(':');
    port_ = colon == std::string::npos ? 0 : static_cast<std::uint16_t>(std::atoi(l.c_str() + colon + 1));
  }

  char log_template[] = "/tmp/psig-daemon-XXXXXX";
  const int log_fd = mkstemp(log_template);
  if (log_fd < 0) throw std::runtime_error("mkstemp failed");
  log_path_ = log_template;

  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  const std::string path = daemon_path();

  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    const int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, STDIN_FILENO);
    char* argv[] = {const_cast<char*>(path.c_str()), const_cast<char*>("serve"), nullptr};
    execve(path.c_str(), argv, envp.data());
    _exit(127);
  }
  close(log_fd);

  if (!opts.wait_ready) return;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!running()) {
      throw std::runtime_error("daemon exited early with code " + std::to_string(exit_code_) +
                               ":\n" + output());
    }
    try {
      if (status_of(raw_exchange(port_, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                                 std::chrono::seconds(1))) == 200) {
        return;
      }
    } catch (const std::exception&) {
      // not listening yet
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  throw std::runtime_error("daemon not ready within 10 s:\n" + output());
}

daemon_process::~daemon_process() {
  if (running()) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (own_database_) drop_database(database_url_);
  if (!log_path_.empty()) unlink(log_path_.c_str());
}

bool daemon_process::running() {
  if (exited_ || pid_ <= 0) return false;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  exited_ = true;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return false;
}

int daemon_process::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return exit_code_;
}

int daemon_process::stop(std::chrono::milliseconds timeout) {
  if (running()) kill(pid_, SIGTERM);
  return wait_exit(timeout);
}

std::string daemon_process::output() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace psig::test
