// Tests for the test support itself: every pg test relies on scratch_database.
#include "tests/support/postgres.hpp"

#include <gtest/gtest.h>
#include <optional>
#include <pqxx/pqxx>

namespace {

using imgproc::testing::scratch_database;
using imgproc::testing::with_database;

bool database_exists(const std::string& name) {
  pqxx::connection conn{imgproc::testing::admin_dsn()};
  return !pqxx::nontransaction{conn}
              .exec_params("SELECT 1 FROM pg_database WHERE datname = $1", name)
              .empty();
}

TEST(with_database, replaces_or_adds_the_database_name) {
  EXPECT_EQ(with_database("postgresql:///imgproc?host=/tmp/x/socket&user=postgres", "t1"),
            "postgresql:///t1?host=/tmp/x/socket&user=postgres");
  EXPECT_EQ(with_database("postgresql://u:p@h:5432/imgproc?sslmode=disable", "t1"),
            "postgresql://u:p@h:5432/t1?sslmode=disable");
  EXPECT_EQ(with_database("postgresql://u@h:5432/imgproc", "t1"), "postgresql://u@h:5432/t1");
  EXPECT_EQ(with_database("postgresql://u@h:5432", "t1"), "postgresql://u@h:5432/t1");
  EXPECT_EQ(with_database("postgres://h?user=u", "t1"), "postgres://h/t1?user=u");
  EXPECT_EQ(with_database("host=/s user=postgres dbname=imgproc", "t1"),
            "host=/s user=postgres dbname=t1");
  EXPECT_EQ(with_database("host=/s user=postgres", "t1"), "host=/s user=postgres dbname=t1");
}

TEST(scratch_database, is_created_empty_and_dropped_even_with_open_connections) {
  std::string name;
  std::optional<pqxx::connection> left_open;
  {
    scratch_database db;
    name = db.name();
    EXPECT_EQ(name.rfind("imgproc_t_", 0), 0u) << name;
    left_open.emplace(db.dsn());
    pqxx::nontransaction txn{*left_open};
    EXPECT_EQ(txn.exec("SELECT current_database()")[0][0].as<std::string>(), name);
    EXPECT_EQ(
        txn.exec("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")[0][0].as<int>(), 0);
    EXPECT_TRUE(database_exists(name));
  }
  EXPECT_FALSE(database_exists(name));
}

TEST(scratch_database, names_are_unique) {
  scratch_database a;
  scratch_database b;
  EXPECT_NE(a.name(), b.name());
  EXPECT_NE(a.dsn(), b.dsn());
}

} // namespace
