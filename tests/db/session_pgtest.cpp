#include "db/migrations.hpp"
#include "db/session.hpp"
#include "db/task_repository.hpp"
#include "tests/support/postgres.hpp"

#include <chrono>
#include <gtest/gtest.h>
#include <pqxx/pqxx>
#include <thread>

namespace {

using namespace imgproc::db;
using imgproc::testing::scratch_database;

int backend_pid(pqxx::connection& conn) {
  return pqxx::nontransaction{conn}.exec("SELECT pg_backend_pid()")[0][0].as<int>();
}

// Terminates a backend and waits until it is really gone, so the test does not race the kill.
void kill_backend(const std::string& admin_dsn, int pid) {
  pqxx::connection admin{admin_dsn};
  pqxx::nontransaction txn{admin};
  ASSERT_TRUE(txn.exec_params("SELECT pg_terminate_backend($1)", pid)[0][0].as<bool>());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!txn.exec_params("SELECT 1 FROM pg_stat_activity WHERE pid = $1", pid).empty()) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "backend " << pid << " did not exit";
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

TEST(session, does_not_connect_until_used) {
  session s{"postgresql:///imgproc?host=/nonexistent/imgproc-socket&user=postgres"};
  EXPECT_FALSE(s.connected());
}

TEST(session, unreachable_database_throws_and_is_unhealthy) {
  session s{"postgresql:///imgproc?host=/nonexistent/imgproc-socket&user=postgres"};
  EXPECT_THROW(s.run([](pqxx::connection& conn) { return backend_pid(conn); }),
               pqxx::broken_connection);
  EXPECT_FALSE(s.healthy());
  EXPECT_FALSE(s.connected());
  // Still usable: it tries again on every call.
  EXPECT_THROW(s.run([](pqxx::connection&) {}), pqxx::broken_connection);
}

TEST(session, runs_calls_and_returns_their_result) {
  scratch_database db;
  session s{db.dsn()};
  EXPECT_TRUE(s.healthy());
  EXPECT_TRUE(s.connected());
  const int pid = s.run(backend_pid);
  EXPECT_EQ(s.run(backend_pid), pid) << "the connection is kept between calls";
}

TEST(session, sql_errors_keep_the_connection) {
  scratch_database db;
  session s{db.dsn()};
  const int pid = s.run(backend_pid);
  EXPECT_THROW(s.run([](pqxx::connection& conn) { pqxx::nontransaction{conn}.exec("SELEC 1"); }),
               pqxx::syntax_error);
  EXPECT_EQ(s.run(backend_pid), pid);
}

TEST(session, reconnects_after_backend_is_killed_and_prepares_again) {
  scratch_database db;
  {
    pqxx::connection conn{db.dsn()};
    apply_migrations(conn);
  }
  int prepared = 0;
  session s{db.dsn(), [&](pqxx::connection& conn) {
              ++prepared;
              prepare_task_statements(conn);
            }};
  const auto first_id = s.run([](pqxx::connection& conn) { return create_task(conn, 1, "a.jpg"); });
  EXPECT_EQ(prepared, 1);
  const int old_pid = s.run(backend_pid);

  kill_backend(db.admin_dsn(), old_pid);

  EXPECT_THROW(s.run([](pqxx::connection& conn) { return find_task(conn, 1); }),
               pqxx::broken_connection);
  EXPECT_FALSE(s.connected());

  // The next call reconnects, and the prepared statements exist on the new connection.
  const auto task = s.run([&](pqxx::connection& conn) { return find_task(conn, first_id); });
  ASSERT_TRUE(task);
  EXPECT_EQ(task->filename, "a.jpg");
  EXPECT_EQ(prepared, 2);
  EXPECT_NE(s.run(backend_pid), old_pid);
  EXPECT_TRUE(s.healthy());
}

TEST(session, healthy_notices_a_killed_backend_and_recovers) {
  scratch_database db;
  session s{db.dsn()};
  ASSERT_TRUE(s.healthy());
  kill_backend(db.admin_dsn(), s.run(backend_pid));
  EXPECT_FALSE(s.healthy()) << "the first check meets the dead connection";
  EXPECT_TRUE(s.healthy()) << "the next one reconnects";
}

TEST(session, failing_prepare_hook_does_not_keep_a_half_ready_connection) {
  scratch_database db;
  bool fail = true;
  session s{db.dsn(), [&](pqxx::connection& conn) {
              if (fail)
                throw std::runtime_error("hook failed");
              prepare_task_statements(conn);
            }};
  EXPECT_THROW(s.run(backend_pid), std::runtime_error);
  EXPECT_FALSE(s.connected());
  fail = false;
  EXPECT_NO_THROW(s.run(backend_pid));
  EXPECT_TRUE(s.connected());
}

} // namespace
