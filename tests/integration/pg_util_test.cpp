// The SQL helpers against a real PostgreSQL: what they render is what PostgreSQL reads.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "storage/pg_util.hpp"
#include "support/test_env.hpp"

namespace psig::test {
namespace {

TEST(pg_util_test, text_array_round_trips_through_postgresql) {
  const std::string url = create_database();
  const std::vector<std::string> items{"dlv_01", "", "a,b", "{x}", "quote\"d", "back\\slash",
                                       "NULL", " spaced ", "ünï"};
  {
    pqxx::connection c(url);
    pqxx::nontransaction w(c);
    const auto r = w.exec_params("SELECT x FROM unnest($1::text[]) WITH ORDINALITY AS t(x, n) ORDER BY n",
                                 storage::pg::text_array(items));
    ASSERT_EQ(r.size(), items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
      EXPECT_FALSE(r[i][0].is_null()) << i;
      EXPECT_EQ(r[i][0].as<std::string>(), items[i]) << i;
    }
    EXPECT_EQ(w.exec_params1("SELECT cardinality($1::text[])", storage::pg::text_array({}))[0].as<int>(), 0);
  }
  drop_database(url);
}

}  // namespace
}  // namespace psig::test
