#include "db/migrations.hpp"
#include "tests/support/postgres.hpp"

#include <algorithm>
#include <gtest/gtest.h>
#include <pqxx/pqxx>
#include <thread>

namespace {

using imgproc::db::apply_migrations;
using imgproc::db::bundled_migrations;
using imgproc::db::migration;
using imgproc::db::migration_report;
using imgproc::testing::scratch_database;

std::vector<int> bundled_versions() {
  std::vector<int> versions;
  for (const auto& m : bundled_migrations())
    versions.push_back(m.version);
  return versions;
}

std::vector<int> recorded_versions(pqxx::connection& conn) {
  std::vector<int> versions;
  pqxx::nontransaction txn{conn};
  for (const auto& row : txn.exec("SELECT version FROM schema_migrations ORDER BY version"))
    versions.push_back(row[0].as<int>());
  return versions;
}

TEST(migrations, bundled_are_ordered_and_named_from_files) {
  const auto& all = bundled_migrations();
  ASSERT_GE(all.size(), 2u);
  EXPECT_EQ(all[0].version, 1);
  EXPECT_EQ(all[0].name, "initial_schema");
  EXPECT_EQ(all[1].version, 2);
  EXPECT_EQ(all[1].name, "car_detection_pipeline");
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end(), [](const migration& a, const migration& b) {
    return a.version < b.version;
  }));
  for (const auto& m : all)
    EXPECT_FALSE(m.sql.empty()) << m.name;
}

TEST(migrations, apply_to_empty_database_then_nothing_on_second_run) {
  scratch_database db;
  pqxx::connection conn{db.dsn()};

  const migration_report first = apply_migrations(conn);
  EXPECT_EQ(first.applied, bundled_versions());
  EXPECT_EQ(first.current_version, bundled_versions().back());
  EXPECT_EQ(recorded_versions(conn), bundled_versions());

  const migration_report second = apply_migrations(conn);
  EXPECT_TRUE(second.applied.empty());
  EXPECT_EQ(second.current_version, first.current_version);
  EXPECT_EQ(recorded_versions(conn), bundled_versions());

  pqxx::nontransaction txn{conn};
  EXPECT_EQ(
      txn.exec("SELECT name FROM schema_migrations WHERE version = 1")[0][0].as<std::string>(),
      "initial_schema");
  EXPECT_FALSE(
      txn.exec("SELECT applied_at FROM schema_migrations WHERE version = 1")[0][0].is_null());
}

TEST(migrations, concurrent_migrators_both_succeed_and_apply_each_once) {
  scratch_database db;
  migration_report reports[2];
  std::exception_ptr errors[2];
  // Start both on open connections so they really race for the lock.
  pqxx::connection conns[2] = {pqxx::connection{db.dsn()}, pqxx::connection{db.dsn()}};
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&, i] {
      try {
        reports[i] = apply_migrations(conns[i]);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    });
  }
  for (auto& t : threads)
    t.join();
  for (const auto& error : errors) {
    if (error) {
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        FAIL() << "a migrator failed: " << e.what();
      }
    }
  }

  std::vector<int> applied = reports[0].applied;
  applied.insert(applied.end(), reports[1].applied.begin(), reports[1].applied.end());
  std::sort(applied.begin(), applied.end());
  EXPECT_EQ(applied, bundled_versions()) << "each migration applied by exactly one migrator";
  EXPECT_EQ(reports[0].current_version, bundled_versions().back());
  EXPECT_EQ(reports[1].current_version, bundled_versions().back());
  EXPECT_EQ(recorded_versions(conns[0]), bundled_versions());
}

TEST(migrations, failing_migration_is_rolled_back_and_not_recorded) {
  scratch_database db;
  pqxx::connection conn{db.dsn()};
  const std::vector<migration> all{
      {1, "create_a", "CREATE TABLE a (x int)"},
      {2, "broken", "CREATE TABLE b (x int); SELECT no_such_function()"},
      {3, "create_c", "CREATE TABLE c (x int)"},
  };
  EXPECT_THROW(apply_migrations(conn, all), pqxx::sql_error);
  EXPECT_EQ(recorded_versions(conn), std::vector<int>{1});

  pqxx::nontransaction txn{conn};
  EXPECT_FALSE(txn.exec("SELECT to_regclass('a')")[0][0].is_null());
  EXPECT_TRUE(txn.exec("SELECT to_regclass('b')")[0][0].is_null()) << "half of 2 stayed applied";
  EXPECT_TRUE(txn.exec("SELECT to_regclass('c')")[0][0].is_null());
}

TEST(migrations, applies_in_version_order_whatever_the_list_order) {
  scratch_database db;
  pqxx::connection conn{db.dsn()};
  // 2 depends on 1: applying them in list order would fail.
  const std::vector<migration> all{
      {2, "fill", "INSERT INTO t VALUES (1)"},
      {1, "create", "CREATE TABLE t (x int)"},
  };
  const auto report = apply_migrations(conn, all);
  EXPECT_EQ(report.applied, (std::vector<int>{1, 2}));
  EXPECT_EQ(report.current_version, 2);
}

TEST(migrations, rejects_duplicate_versions) {
  scratch_database db;
  pqxx::connection conn{db.dsn()};
  const std::vector<migration> all{{1, "a", "SELECT 1"}, {1, "b", "SELECT 1"}};
  EXPECT_THROW(apply_migrations(conn, all), std::invalid_argument);
}

TEST(migrations, schema_has_no_cascading_deletes) {
  scratch_database db;
  pqxx::connection conn{db.dsn()};
  apply_migrations(conn);
  pqxx::nontransaction txn{conn};
  // confdeltype 'c' is ON DELETE CASCADE.
  EXPECT_EQ(txn.exec("SELECT count(*) FROM pg_constraint WHERE contype = 'f'"
                     " AND confdeltype = 'c'")[0][0]
                .as<int>(),
            0);
  EXPECT_THROW(txn.exec("DELETE FROM pipelines WHERE id = 1"), pqxx::foreign_key_violation);
}

} // namespace
