// The SQL helpers against a real PostgreSQL: what they render is what PostgreSQL reads.
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "storage/pg_util.hpp"
#include "support/test_env.hpp"

namespace psig::test {
namespace {

// The elements of a text[] literal as PostgreSQL reads them, in order.
pqxx::result unnest_text(pqxx::nontransaction& w, const std::string& literal) {
  return w.exec_params("SELECT x FROM unnest($1::text[]) WITH ORDINALITY AS t(x, n) ORDER BY n", literal);
}

TEST(pg_util_test, text_array_round_trips_through_postgresql) {
  const std::string url = create_database();
  const std::vector<std::string> items{"dlv_01", "", "a,b", "{x}", "quote\"d", "back\\slash",
                                       "NULL", " spaced ", "ünï"};
  {
    pqxx::connection c(url);
    pqxx::nontransaction w(c);
    const auto r = unnest_text(w, storage::pg::text_array(items));
    ASSERT_EQ(r.size(), items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
      EXPECT_FALSE(r[i][0].is_null()) << i;
      EXPECT_EQ(r[i][0].as<std::string>(), items[i]) << i;
    }
    EXPECT_EQ(w.exec_params1("SELECT cardinality($1::text[])", storage::pg::text_array(std::vector<std::string>{}))[0].as<int>(), 0);
  }
  drop_database(url);
}

// The literal of optional elements, as the batch writers build it column by column.
std::string nullable_array(const std::vector<std::optional<std::string>>& items) {
  storage::pg::array_literal a;
  for (const auto& item : items) a.add_opt(item);
  return a.str();
}

TEST(pg_util_test, nullable_text_array_keeps_nulls_apart_from_the_string_null) {
  const std::string url = create_database();
  const std::vector<std::optional<std::string>> items{std::nullopt, "NULL", "", std::nullopt, "x,\"y\""};
  {
    pqxx::connection c(url);
    pqxx::nontransaction w(c);
    const auto r = unnest_text(w, nullable_array(items));
    ASSERT_EQ(r.size(), items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
      EXPECT_EQ(r[i][0].is_null(), !items[i].has_value()) << i;
      if (items[i]) EXPECT_EQ(r[i][0].as<std::string>(), *items[i]) << i;
    }
    // Numbers and times travel as their text.
    EXPECT_EQ(w.exec_params1("SELECT sum(x) FROM unnest($1::int[]) AS t(x)",
                             nullable_array({"2", std::nullopt, "40"}))[0]
                  .as<int>(),
              42);
  }
  drop_database(url);
}

}  // namespace
}  // namespace psig::test
