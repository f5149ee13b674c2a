#include "support/test_env.hpp"

#include <cstdlib>
#include <stdexcept>

#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "psig/common/ids.hpp"

namespace psig::test {

std::string required_env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    ADD_FAILURE() << name << " is not set: run the tests through scripts/test, which starts "
                  << "PostgreSQL, NATS and Redis and exports PSIG_TEST_*";
    throw std::runtime_error(std::string(name) + " is not set");
  }
  return v;
}

std::string nats_url() { return required_env("PSIG_TEST_NATS_URL"); }
std::string redis_url() { return required_env("PSIG_TEST_REDIS_URL"); }

namespace {

// postgresql://user@host:port/dbname?x -> the same URL naming another database.
std::string with_database(const std::string& url, const std::string& db) {
  const auto scheme_end = url.find("://");
  const auto slash = url.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
  const auto query = url.find('?');
  std::string out = slash == std::string::npos ? url : url.substr(0, slash);
  out += "/" + db;
  if (query != std::string::npos) out += url.substr(query);
  return out;
}

std::string database_of(const std::string& url) {
  const auto scheme_end = url.find("://");
  const auto slash = url.find('/', scheme_end + 3);
  const auto query = url.find('?');
  return url.substr(slash + 1, query == std::string::npos ? std::string::npos : query - slash - 1);
}

}  // namespace

std::string create_database() {
  const auto admin = required_env("PSIG_TEST_DATABASE_URL");
  std::string name = "psig_t_" + common::new_ulid();
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  pqxx::connection conn(admin);
  pqxx::nontransaction nt(conn);
  nt.exec("CREATE DATABASE " + name);
  return with_database(admin, name);
}

void drop_database(const std::string& url) {
  try {
    pqxx::connection conn(required_env("PSIG_TEST_DATABASE_URL"));
    pqxx::nontransaction nt(conn);
    nt.exec("DROP DATABASE IF EXISTS " + database_of(url) + " WITH (FORCE)");
  } catch (const std::exception&) {
    // Best effort: a leftover database in a private test server harms nothing.
  }
}

std::uint16_t free_port() {
  asio::io_context ioc;
  asio::ip::tcp::acceptor a(ioc, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

}  // namespace psig::test
