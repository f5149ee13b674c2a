#include "app/config.hpp"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <variant>

#include <gtest/gtest.h>
#include <unistd.h>

namespace psig::app {
namespace {

using env_map = std::map<std::string, std::string>;

const std::string database = "postgresql://psig@localhost/psig";

// A fake environment: only the given variables exist.
std::variant<config, std::string> load(const env_map& vars) {
  return load_config([&](const char* name) -> const char* {
    const auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

config load_ok(env_map vars) {
  vars.try_emplace("PSIG_DATABASE_URL", database);
  auto result = load(vars);
  if (const auto* e = std::get_if<std::string>(&result)) {
    ADD_FAILURE() << "unexpected error: " << *e;
    return config{};
  }
  return std::get<config>(std::move(result));
}

std::string load_error(env_map vars) {
  vars.try_emplace("PSIG_DATABASE_URL", database);
  const auto result = load(vars);
  if (std::holds_alternative<config>(result)) {
    ADD_FAILURE() << "expected an error";
    return {};
  }
  const std::string& e = std::get<std::string>(result);
  EXPECT_EQ(e.find('\n'), std::string::npos) << "not one line: " << e;
  return e;
}

// A config file removed when the test ends; unique per process and test.
class temp_file {
 public:
  explicit temp_file(const std::string& content) {
    static std::atomic<int> counter{0};
    path_ = (std::filesystem::temp_directory_path() /
             ("psig_config_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) +
              ".json"))
                .string();
    std::ofstream(path_) << content;
  }
  ~temp_file() { std::filesystem::remove(path_); }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(Config, Defaults) {
  const config c = load_ok({});
  EXPECT_EQ(c.listen_host, "127.0.0.1");
  EXPECT_EQ(c.listen_port, 8080);
  EXPECT_EQ(c.database_url, database);
  EXPECT_EQ(c.database_pool_size, 4);
  EXPECT_EQ(c.nats_url, "nats://127.0.0.1:4222");
  EXPECT_EQ(c.redis_url, "redis://127.0.0.1:6379");
  EXPECT_EQ(c.admin_token, "");
  EXPECT_FALSE(c.node_id.empty());  // the host name
  EXPECT_EQ(c.log_format, "text");
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.io_threads, 2);
  EXPECT_TRUE(c.signup_enabled);
  EXPECT_TRUE(c.ssrf_allow.empty());
  EXPECT_EQ(c.retry_schedule, (std::vector<int>{5, 300, 1800, 7200, 18000, 36000, 36000}));
}

TEST(Config, EnvironmentOverrides) {
  const config c = load_ok({
      {"PSIG_LISTEN", "0.0.0.0:9000"},
      {"PSIG_NATS_URL", "nats://nats:4222"},
      {"PSIG_REDIS_URL", "redis://redis:6379/1"},
      {"PSIG_ADMIN_TOKEN", "0123456789abcdef"},
      {"PSIG_NODE_ID", "node-1"},
      {"PSIG_LOG_FORMAT", "json"},
      {"PSIG_LOG_LEVEL", "debug"},
      {"PSIG_IO_THREADS", "8"},
      {"PSIG_DATABASE_POOL_SIZE", "16"},
      {"PSIG_SIGNUP_ENABLED", "false"},
      {"PSIG_HTTP_READ_TIMEOUT_MS", "1500"},
      {"PSIG_SSRF_ALLOW", "10.0.0.0/8, fd00::/8,127.0.0.1"},
      {"PSIG_RETRY_SCHEDULE", "1,2,3"},
  });
  EXPECT_EQ(c.listen_host, "0.0.0.0");
  EXPECT_EQ(c.listen_port, 9000);
  EXPECT_EQ(c.nats_url, "nats://nats:4222");
  EXPECT_EQ(c.redis_url, "redis://redis:6379/1");
  EXPECT_EQ(c.admin_token, "0123456789abcdef");
  EXPECT_EQ(c.node_id, "node-1");
  EXPECT_EQ(c.log_format, "json");
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.io_threads, 8);
  EXPECT_EQ(c.database_pool_size, 16);
  EXPECT_FALSE(c.signup_enabled);
  EXPECT_EQ(c.http_read_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(c.ssrf_allow, (std::vector<std::string>{"10.0.0.0/8", "fd00::/8", "127.0.0.1"}));
  EXPECT_EQ(c.retry_schedule, (std::vector<int>{1, 2, 3}));
}

TEST(Config, ListenForms) {
  config c = load_ok({{"PSIG_LISTEN", "[::1]:8443"}});
  EXPECT_EQ(c.listen_host, "::1");
  EXPECT_EQ(c.listen_port, 8443);
  c = load_ok({{"PSIG_LISTEN", "localhost:8081"}});
  EXPECT_EQ(c.listen_host, "127.0.0.1");
  EXPECT_EQ(c.listen_port, 8081);
}

TEST(Config, BooleansFromEnvironment) {
  EXPECT_TRUE(load_ok({{"PSIG_SIGNUP_ENABLED", "true"}}).signup_enabled);
  EXPECT_TRUE(load_ok({{"PSIG_SIGNUP_ENABLED", "1"}}).signup_enabled);
  EXPECT_FALSE(load_ok({{"PSIG_SIGNUP_ENABLED", "0"}}).signup_enabled);
  EXPECT_EQ(load_error({{"PSIG_SIGNUP_ENABLED", "maybe"}}),
            "PSIG_SIGNUP_ENABLED: cannot parse 'maybe'");
}

TEST(Config, InvalidEnvironmentValuesNameTheVariable) {
  EXPECT_EQ(load_error({{"PSIG_LISTEN", "127.0.0.1"}}), "PSIG_LISTEN: expected host:port");
  EXPECT_EQ(load_error({{"PSIG_LISTEN", ":8080"}}), "PSIG_LISTEN: expected host:port");
  EXPECT_EQ(load_error({{"PSIG_LISTEN", "not a host:8080"}}),
            "PSIG_LISTEN: 'not a host' is not an IP address");
  EXPECT_EQ(load_error({{"PSIG_LISTEN", "127.0.0.1:99999"}}), "PSIG_LISTEN: '99999' is not a port");
  EXPECT_EQ(load_error({{"PSIG_LISTEN", "127.0.0.1:http"}}), "PSIG_LISTEN: 'http' is not a port");
  EXPECT_EQ(load_error({{"PSIG_LISTEN", "127.0.0.1:"}}), "PSIG_LISTEN: '' is not a port");

  EXPECT_EQ(load_error({{"PSIG_IO_THREADS", "0"}}), "PSIG_IO_THREADS: must be between 1 and 64");
  EXPECT_EQ(load_error({{"PSIG_IO_THREADS", "x"}}), "PSIG_IO_THREADS: cannot parse 'x'");
  EXPECT_EQ(load_error({{"PSIG_IO_THREADS", "4x"}}), "PSIG_IO_THREADS: cannot parse '4x'");
  EXPECT_EQ(load_error({{"PSIG_IO_THREADS", ""}}), "PSIG_IO_THREADS: cannot parse ''");

  EXPECT_EQ(load_error({{"PSIG_LOG_FORMAT", "xml"}}), "PSIG_LOG_FORMAT: must be one of text, json");
  EXPECT_EQ(load_error({{"PSIG_NATS_URL", "http://nats"}}),
            "PSIG_NATS_URL: expected a nats:// or tls:// URL");
  EXPECT_EQ(load_error({{"PSIG_REDIS_URL", "memcached://x"}}),
            "PSIG_REDIS_URL: expected redis://[:password@]host[:port][/db]");
  // A malformed port is caught at configuration time, before anything starts.
  EXPECT_EQ(load_error({{"PSIG_REDIS_URL", "redis://h:abc"}}),
            "PSIG_REDIS_URL: expected redis://[:password@]host[:port][/db]");
  EXPECT_EQ(load_error({{"PSIG_NODE_ID", "a b"}}),
            "PSIG_NODE_ID: may only hold letters, digits, '-', '_' and '.'");
  EXPECT_EQ(load_error({{"PSIG_ADMIN_TOKEN", "short"}}),
            "PSIG_ADMIN_TOKEN: must be at least 16 characters");
}

TEST(Config, SsrfAllowList) {
  EXPECT_EQ(load_error({{"PSIG_SSRF_ALLOW", "10.0.0.0/8,not-a-cidr"}}),
            "PSIG_SSRF_ALLOW: 'not-a-cidr' is not an address or CIDR");
  EXPECT_EQ(load_error({{"PSIG_SSRF_ALLOW", "10.0.0.0/33"}}),
            "PSIG_SSRF_ALLOW: '10.0.0.0/33' has a bad prefix length");
  EXPECT_EQ(load_error({{"PSIG_SSRF_ALLOW", "fd00::/129"}}),
            "PSIG_SSRF_ALLOW: 'fd00::/129' has a bad prefix length");
  EXPECT_EQ(load_error({{"PSIG_SSRF_ALLOW", "10.0.0.0/"}}),
            "PSIG_SSRF_ALLOW: '10.0.0.0/' has a bad prefix length");
  EXPECT_EQ(load_error({{"PSIG_SSRF_ALLOW", "10.0.0.0/8x"}}),
            "PSIG_SSRF_ALLOW: '10.0.0.0/8x' has a bad prefix length");

  EXPECT_EQ(load_ok({{"PSIG_SSRF_ALLOW", "192.168.0.0/16"}}).ssrf_allow,
            std::vector<std::string>{"192.168.0.0/16"});
  EXPECT_EQ(load_ok({{"PSIG_SSRF_ALLOW", "::1/128,fc00::/7"}}).ssrf_allow,
            (std::vector<std::string>{"::1/128", "fc00::/7"}));
  EXPECT_TRUE(load_ok({{"PSIG_SSRF_ALLOW", ""}}).ssrf_allow.empty());
}

TEST(Config, RetrySchedule) {
  EXPECT_EQ(load_error({{"PSIG_RETRY_SCHEDULE", "5,300,x"}}),
            "PSIG_RETRY_SCHEDULE: cannot parse '5,300,x'");
  EXPECT_EQ(load_error({{"PSIG_RETRY_SCHEDULE", "5,-1"}}),
            "PSIG_RETRY_SCHEDULE: each delay must be between 0 and 2592000");
  EXPECT_EQ(load_error({{"PSIG_RETRY_SCHEDULE", ""}}),
            "PSIG_RETRY_SCHEDULE: expected 1-50 delays in seconds");
  EXPECT_EQ(load_ok({{"PSIG_RETRY_SCHEDULE", " 1, 2 ,3 "}}).retry_schedule,
            (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(load_ok({{"PSIG_RETRY_SCHEDULE", "0"}}).retry_schedule, std::vector<int>{0});
}

TEST(Config, DatabaseUrl) {
  const auto missing = load({});
  ASSERT_TRUE(std::holds_alternative<std::string>(missing));
  EXPECT_EQ(std::get<std::string>(missing),
            "PSIG_DATABASE_URL: is required (or database_url in the config file)");
  EXPECT_EQ(load_error({{"PSIG_DATABASE_URL", "mysql://db/psig"}}),
            "PSIG_DATABASE_URL: expected a postgresql:// URL");
  EXPECT_EQ(load_error({{"PSIG_DATABASE_URL", ""}}),
            "PSIG_DATABASE_URL: expected a postgresql:// URL");
  EXPECT_EQ(load_ok({{"PSIG_DATABASE_URL", "postgres://db/psig"}}).database_url,
            "postgres://db/psig");
}

TEST(Config, FileValues) {
  const temp_file file(R"({
    "listen": "0.0.0.0:7000",
    "database_url": "postgresql://file/psig",
    "io_threads": 3,
    "signup_enabled": false,
    "log_format": "json",
    "ssrf_allow": ["10.1.0.0/16"],
    "retry_schedule": [10, 20],
    "shutdown_grace_ms": 2500
  })");
  const auto result = load({{"PSIG_CONFIG", file.path()}});
  ASSERT_TRUE(std::holds_alternative<config>(result)) << std::get<std::string>(result);
  const config& c = std::get<config>(result);
  EXPECT_EQ(c.listen_host, "0.0.0.0");
  EXPECT_EQ(c.listen_port, 7000);
  EXPECT_EQ(c.database_url, "postgresql://file/psig");
  EXPECT_EQ(c.io_threads, 3);
  EXPECT_FALSE(c.signup_enabled);
  EXPECT_EQ(c.log_format, "json");
  EXPECT_EQ(c.ssrf_allow, std::vector<std::string>{"10.1.0.0/16"});
  EXPECT_EQ(c.retry_schedule, (std::vector<int>{10, 20}));
  EXPECT_EQ(c.shutdown_grace, std::chrono::milliseconds(2500));
}

TEST(Config, EnvironmentWinsOverFile) {
  const temp_file file(R"({"listen": "0.0.0.0:7000", "io_threads": 3, "log_format": "json"})");
  const config c = load_ok(
      {{"PSIG_CONFIG", file.path()}, {"PSIG_LISTEN", "127.0.0.1:7001"}, {"PSIG_IO_THREADS", "5"}});
  EXPECT_EQ(c.listen_port, 7001);
  EXPECT_EQ(c.io_threads, 5);
  EXPECT_EQ(c.log_format, "json");  // not overridden, so the file's value stands
}

TEST(Config, FileErrorsNameTheKey) {
  const temp_file unknown(R"({"io_threads": 2, "bogus_key": 1})");
  EXPECT_EQ(load_error({{"PSIG_CONFIG", unknown.path()}}), "config key 'bogus_key': unknown key");

  const temp_file wrong_type(R"({"io_threads": "4"})");
  EXPECT_EQ(load_error({{"PSIG_CONFIG", wrong_type.path()}}),
            "config key 'io_threads': expected an integer");

  const temp_file out_of_range(R"({"io_threads": 65})");
  EXPECT_EQ(load_error({{"PSIG_CONFIG", out_of_range.path()}}),
            "config key 'io_threads': must be between 1 and 64");

  const temp_file bad_list(R"({"ssrf_allow": "10.0.0.0/8"})");
  EXPECT_EQ(load_error({{"PSIG_CONFIG", bad_list.path()}}),
            "config key 'ssrf_allow': expected a list of CIDRs");

  const temp_file bad_flag(R"({"signup_enabled": "false"})");
  EXPECT_EQ(load_error({{"PSIG_CONFIG", bad_flag.path()}}),
            "config key 'signup_enabled': expected true or false");
}

TEST(Config, UnreadableOrMalformedFile) {
  const std::string missing = "/nonexistent/psig/config.json";
  EXPECT_EQ(load_error({{"PSIG_CONFIG", missing}}), "PSIG_CONFIG: cannot read " + missing);

  const temp_file not_json("{ this is not json");
  EXPECT_EQ(load_error({{"PSIG_CONFIG", not_json.path()}}),
            "PSIG_CONFIG: " + not_json.path() + " is not valid JSON");

  const temp_file not_object("[1, 2]");
  EXPECT_EQ(load_error({{"PSIG_CONFIG", not_object.path()}}),
            "PSIG_CONFIG: " + not_object.path() + " must hold a JSON object");

  EXPECT_EQ(load_ok({{"PSIG_CONFIG", ""}}).listen_port, 8080);  // empty: no file
}

TEST(Config, KeysAreDocumentedAndUnique) {
  std::set<std::string> json_keys;
  std::set<std::string> env_names;
  for (const auto& k : config_keys()) {
    EXPECT_TRUE(json_keys.insert(k.json_key).second) << k.json_key;
    EXPECT_TRUE(env_names.insert(k.env_name).second) << k.env_name;
    EXPECT_EQ(std::string(k.env_name).rfind("PSIG_", 0), 0U) << k.env_name;
    EXPECT_NE(std::string(k.description), "") << k.json_key;
  }
  // The names DESIGN §10 fixes for tests and operators.
  for (const char* name :
       {"PSIG_LISTEN", "PSIG_DATABASE_URL", "PSIG_NATS_URL", "PSIG_REDIS_URL", "PSIG_ADMIN_TOKEN",
        "PSIG_NODE_ID", "PSIG_LOG_FORMAT", "PSIG_SSRF_ALLOW", "PSIG_RETRY_SCHEDULE"}) {
    EXPECT_EQ(env_names.count(name), 1U) << name;
  }
}

}  // namespace
}  // namespace psig::app
