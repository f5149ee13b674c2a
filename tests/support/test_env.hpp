#pragma once
// Where the real servers are (scripts/test starts them and exports PSIG_TEST_*), and fresh
// databases so every test suite starts from an empty schema.
#include <cstdint>
#include <string>

#include "psig/common/asio.hpp"

namespace psig::test {

// The value of an environment variable that scripts/test sets; fails the test (ADD_FAILURE +
// throw) when missing, so a run without servers cannot pass silently.
std::string required_env(const char* name);

std::string nats_url();   // PSIG_TEST_NATS_URL
std::string redis_url();  // PSIG_TEST_REDIS_URL

// CREATE DATABASE psig_t_<random> on the PSIG_TEST_DATABASE_URL server; returns its URL. The
// database is dropped by drop_database (or left for inspection when a test crashed).
std::string create_database();
void drop_database(const std::string& url);

// A TCP port on 127.0.0.1 that nothing listens on right now.
std::uint16_t free_port();

// Runs an awaitable to completion on a private io_context (tests of coroutine APIs).
template <class T>
T run_sync(awaitable<T> a);

}  // namespace psig::test

#include "support/run_sync_impl.hpp"
