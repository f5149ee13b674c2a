// The repositories against a real PostgreSQL: CRUD, tenant scoping, pagination, cascades.
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "psig/common/ids.hpp"
#include "psig/storage/migrator.hpp"
#include "psig/storage/repositories.hpp"
#include "storage/pg_pool.hpp"
#include "support/test_env.hpp"

namespace psig::test {
namespace {

class repositories_test : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = create_database();
    storage::migrate(url_);
    pool_ = std::make_unique<storage::pg_pool>(url_, 2);
    repos_ = std::make_unique<storage::repositories>(*pool_);
  }
  void TearDown() override {
    repos_.reset();
    pool_.reset();
    drop_database(url_);
  }

  storage::project make_project(std::optional<std::string> owner = std::nullopt) {
    storage::project p;
    p.id = common::new_id("prj");
    p.account_id = std::move(owner);
    p.name = "p";
    p.realtime_secret = "secret";
    return run_sync(repos_->projects.create(p));
  }
  storage::consumer make_consumer(const std::string& project_id) {
    storage::consumer c;
    c.id = common::new_id("con");
    c.project_id = project_id;
    c.name = "hook";
    c.kind = "webhook";
    c.url = "https://example.com/h";
    c.secret = "whsec_x";
    return run_sync(repos_->consumers.create(c));
  }
  int count(const std::string& table) {
    pqxx::connection c(url_);
    pqxx::read_transaction w(c);
    return w.exec1("SELECT count(*) FROM " + table)[0].as<int>();
  }

  std::string url_;
  std::unique_ptr<storage::pg_pool> pool_;
  std::unique_ptr<storage::repositories> repos_;
};

TEST_F(repositories_test, accounts_are_unique_by_email_case_insensitively) {
  storage::account a{common::new_id("acc"), "Ann@Example.com", "hash", {}};
  auto created = run_sync(repos_->accounts.create(a));
  ASSERT_TRUE(created);
  EXPECT_FALSE(created->created_at.empty());
  storage::account b{common::new_id("acc"), "ann@example.COM", "hash", {}};
  EXPECT_FALSE(run_sync(repos_->accounts.create(b)));
  auto found = run_sync(repos_->accounts.find_by_email("ANN@example.com"));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, a.id);
}

TEST_F(repositories_test, sessions_resolve_until_they_expire) {
  storage::account a{common::new_id("acc"), "s@example.com", "hash", {}};
  ASSERT_TRUE(run_sync(repos_->accounts.create(a)));
  run_sync(repos_->accounts.create_session(a.id, "live-hash", 3600));
  run_sync(repos_->accounts.create_session(a.id, "dead-hash", -1));
  EXPECT_TRUE(run_sync(repos_->accounts.find_by_session("live-hash")));
  EXPECT_FALSE(run_sync(repos_->accounts.find_by_session("dead-hash")));
  EXPECT_FALSE(run_sync(repos_->accounts.find_by_session("unknown")));
}

TEST_F(repositories_test, projects_list_by_owner_with_cursor_pages) {
  storage::account a{common::new_id("acc"), "o@example.com", "hash", {}};
  ASSERT_TRUE(run_sync(repos_->accounts.create(a)));
  std::vector<std::string> mine;
  for (int i = 0; i < 5; ++i) mine.push_back(make_project(a.id).id);
  make_project();  // someone else's (admin-made)

  std::vector<std::string> seen;
  std::optional<std::string> cursor;
  int pages = 0;
  do {
    auto page = run_sync(repos_->projects.list(a.id, storage::page_request{2, cursor}));
    for (auto& p : page.items) seen.push_back(p.id);
    cursor = page.next_cursor;
    ++pages;
  } while (cursor && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, mine);  // ids are time-ordered, so creation order
  EXPECT_EQ(run_sync(repos_->projects.list(std::nullopt, storage::page_request{50, {}})).items.size(), 6u);
}

TEST_F(repositories_test, project_update_and_delete) {
  auto p = make_project();
  p.name = "renamed";
  p.settings = {{"ingest_rate_per_second", 10}};
  p.retention_days = 7;
  auto updated = run_sync(repos_->projects.update(p));
  ASSERT_TRUE(updated);
  EXPECT_EQ(updated->name, "renamed");
  EXPECT_EQ(updated->settings["ingest_rate_per_second"], 10);
  EXPECT_EQ(updated->retention_days, 7);
  EXPECT_TRUE(run_sync(repos_->projects.remove(p.id)));
  EXPECT_FALSE(run_sync(repos_->projects.remove(p.id)));
  EXPECT_FALSE(run_sync(repos_->projects.find(p.id)));
}

TEST_F(repositories_test, keys_by_prefix_and_revocation) {
  auto p = make_project();
  storage::api_key k{common::new_id("key"), p.id, "ci", "abcdefgh1234", "hash",
                     {"events:write", "manage"}, {}, std::nullopt};
  auto created = run_sync(repos_->keys.create(k));
  EXPECT_EQ(created.scopes, (std::vector<std::string>{"events:write", "manage"}));
  ASSERT_TRUE(run_sync(repos_->keys.find_active_by_prefix("abcdefgh1234")));
  auto other = make_project();
  EXPECT_FALSE(run_sync(repos_->keys.revoke(other.id, k.id)));  // another tenant's id: not found
  auto revoked = run_sync(repos_->keys.revoke(p.id, k.id));
  ASSERT_TRUE(revoked);
  EXPECT_TRUE(revoked->revoked_at);
  EXPECT_FALSE(run_sync(repos_->keys.find_active_by_prefix("abcdefgh1234")));
}

TEST_F(repositories_test, consumers_are_scoped_by_project) {
  auto p = make_project();
  auto q = make_project();
  auto c = make_consumer(p.id);
  EXPECT_TRUE(run_sync(repos_->consumers.find(p.id, c.id)));
  EXPECT_FALSE(run_sync(repos_->consumers.find(q.id, c.id)));
  EXPECT_FALSE(run_sync(repos_->consumers.set_status(q.id, c.id, "disabled", "x")));
  EXPECT_FALSE(run_sync(repos_->consumers.remove(q.id, c.id)));
  auto disabled = run_sync(repos_->consumers.set_status(p.id, c.id, "disabled", "by test"));
  ASSERT_TRUE(disabled);
  EXPECT_EQ(disabled->status, "disabled");
  EXPECT_EQ(disabled->disabled_reason, "by test");
}

TEST_F(repositories_test, websocket_consumers_of_a_project) {
  auto p = make_project();
  auto q = make_project();
  make_consumer(p.id);  // a webhook: not listed
  EXPECT_TRUE(run_sync(repos_->consumers.websocket_consumers(p.id)).empty());
  std::vector<std::string> ids;
  for (const auto* project_id : {&p.id, &p.id, &q.id}) {
    storage::consumer c;
    c.id = common::new_id("con");
    c.project_id = *project_id;
    c.name = "app";
    c.kind = "websocket";
    c.secret = "whsec_x";
    ids.push_back(run_sync(repos_->consumers.create(c)).id);
  }
  auto listed = run_sync(repos_->consumers.websocket_consumers(p.id));
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].id, ids[0]);
  EXPECT_EQ(listed[1].id, ids[1]);
  EXPECT_EQ(listed[0].kind, "websocket");
  auto other = run_sync(repos_->consumers.websocket_consumers(q.id));
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other[0].id, ids[2]);
}

TEST_F(repositories_test, rotation_keeps_the_previous_secret_for_the_overlap) {
  auto p = make_project();
  auto c = make_consumer(p.id);
  auto rotated = run_sync(repos_->consumers.rotate_secret(p.id, c.id, "whsec_new", 86400));
  ASSERT_TRUE(rotated);
  EXPECT_EQ(rotated->secret, "whsec_new");
  EXPECT_EQ(rotated->previous_secret, "whsec_x");
  EXPECT_TRUE(rotated->previous_secret_expires_at);
}

TEST_F(repositories_test, subscriptions_need_a_consumer_of_the_same_project) {
  auto p = make_project();
  auto q = make_project();
  auto c = make_consumer(p.id);
  storage::subscription cross{common::new_id("sub"), q.id, c.id, "a.*", nullptr, {}};
  EXPECT_FALSE(run_sync(repos_->subscriptions.create(cross)));
  storage::subscription s{common::new_id("sub"), p.id, c.id, "a.*", {{"data.x", 1}}, {}};
  auto created = run_sync(repos_->subscriptions.create(s));
  ASSERT_TRUE(created);
  EXPECT_EQ(created->filter, (nlohmann::json{{"data.x", 1}}));
  EXPECT_EQ(run_sync(repos_->subscriptions.list(p.id, c.id, {})).items.size(), 1u);
  EXPECT_EQ(run_sync(repos_->subscriptions.list(q.id, std::nullopt, {})).items.size(), 0u);
}

TEST_F(repositories_test, deleting_a_consumer_removes_its_subscriptions) {
  auto p = make_project();
  auto c = make_consumer(p.id);
  storage::subscription s{common::new_id("sub"), p.id, c.id, ">", nullptr, {}};
  ASSERT_TRUE(run_sync(repos_->subscriptions.create(s)));
  EXPECT_TRUE(run_sync(repos_->consumers.remove(p.id, c.id)));
  EXPECT_EQ(count("subscriptions"), 0);
}

TEST_F(repositories_test, deleting_a_project_removes_all_its_data) {
  auto p = make_project();
  auto keep = make_project();
  auto c = make_consumer(p.id);
  auto kept_consumer = make_consumer(keep.id);
  storage::subscription s{common::new_id("sub"), p.id, c.id, ">", nullptr, {}};
  ASSERT_TRUE(run_sync(repos_->subscriptions.create(s)));
  storage::api_key k{common::new_id("key"), p.id, "k", "prefix000001", "h", {"manage"}, {}, std::nullopt};
  run_sync(repos_->keys.create(k));
  EXPECT_TRUE(run_sync(repos_->projects.remove(p.id)));
  EXPECT_EQ(count("subscriptions"), 0);
  EXPECT_EQ(count("api_keys"), 0);
  EXPECT_EQ(count("consumers"), 1);
  EXPECT_TRUE(run_sync(repos_->consumers.find(keep.id, kept_consumer.id)));
}

TEST_F(repositories_test, a_down_database_fails_the_query_not_the_process) {
  storage::pg_pool dead("postgresql://psig@127.0.0.1:" + std::to_string(free_port()) + "/x", 1);
  storage::repositories repos(dead);
  EXPECT_THROW(run_sync(repos.projects.find(common::new_id("prj"))), std::exception);
}

}  // namespace
}  // namespace psig::test
