// write_task_batch: many requests' row writes in one statement per kind, each with exactly the
// result (or error) it would have had alone, against a real PostgreSQL.

#include "db/connection.hpp"
#include "db/migrations.hpp"
#include "db/task_repository.hpp"
#include "tests/support/postgres.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>

namespace {

using namespace imgproc::db;
using imgproc::testing::scratch_database;

class task_batch : public ::testing::Test {
protected:
  void SetUp() override {
    conn_ = std::make_unique<pqxx::connection>(db_.dsn());
    set_application_name(*conn_, "imgproc:batch-test");
    apply_migrations(*conn_);
    prepare_task_statements(*conn_);
  }

  pqxx::connection& conn() { return *conn_; }

  std::int64_t count(const std::string& where) {
    return pqxx::nontransaction{conn()}
        .exec("SELECT count(*) FROM tasks WHERE " + where)[0][0]
        .as<std::int64_t>();
  }

  /// Rethrows a result's error, so a test can say which exception a write got.
  template <class T> static void rethrow(const task_write_result<T>& result) {
    ASSERT_TRUE(result.error);
    std::rethrow_exception(result.error);
  }

  scratch_database db_;
  std::unique_ptr<pqxx::connection> conn_;
};

TEST_F(task_batch, creates_get_their_own_ids_in_order_with_the_sessions_owner) {
  task_write_batch batch;
  for (int i = 0; i < 5; ++i)
    batch.creates.push_back({1, 1, "cam" + std::to_string(i) + ".jpg"});
  auto results = write_task_batch(conn(), batch);
  ASSERT_EQ(results.created.size(), 5u);
  EXPECT_FALSE(results.unavailable);
  for (std::size_t i = 0; i < 5; ++i) {
    SCOPED_TRACE(i);
    ASSERT_FALSE(results.created[i].error);
    if (i > 0) {
      EXPECT_LT(results.created[i - 1].value, results.created[i].value);
    }
    auto task = find_task(conn(), results.created[i].value);
    ASSERT_TRUE(task);
    EXPECT_EQ(task->status, "processing");
    EXPECT_EQ(task->filename, "cam" + std::to_string(i) + ".jpg");
    EXPECT_EQ(task->pipeline_version, 1);
    EXPECT_EQ(task->owner, "imgproc:batch-test");
  }
  EXPECT_EQ(count("true"), 5);
}

TEST_F(task_batch, finishes_and_fails_change_only_rows_still_processing) {
  auto a = create_task(conn(), 1, 1, "a.jpg");
  auto b = create_task(conn(), 1, 1, "b.jpg");
  auto c = create_task(conn(), 1, 1, "c.jpg");
  auto done = create_task(conn(), 1, 1, "done.jpg");
  ASSERT_TRUE(finish_task(conn(), done, "undetected", nlohmann::json::array()));

  task_write_batch batch;
  const nlohmann::json box = {{"x", 1}, {"y", 2}, {"width", 3}, {"height", 4}};
  batch.finishes.push_back({a, "detected", box, 0, 0});
  batch.finishes.push_back({done, "detected", box, 0, 0}); // already finished: unchanged
  batch.finishes.push_back({b, "undetected", nlohmann::json::array(), 5, 0}); // wrong claim
  batch.fails.push_back({c, "ml service down", 0});
  batch.fails.push_back({done, "too late", 0});
  auto results = write_task_batch(conn(), batch);
  ASSERT_EQ(results.finished.size(), 3u);
  ASSERT_EQ(results.failed.size(), 2u);
  EXPECT_TRUE(results.finished[0].value);
  EXPECT_FALSE(results.finished[1].value);
  EXPECT_FALSE(results.finished[2].value);
  EXPECT_TRUE(results.failed[0].value);
  EXPECT_FALSE(results.failed[1].value);
  for (const auto& r : results.finished)
    EXPECT_FALSE(r.error);

  EXPECT_EQ(find_task(conn(), a)->data, box);
  EXPECT_EQ(find_task(conn(), a)->status, "detected");
  EXPECT_EQ(find_task(conn(), b)->status, "processing");
  EXPECT_EQ(find_task(conn(), c)->status, "failed");
  EXPECT_EQ(find_task(conn(), c)->error, "ml service down");
  EXPECT_EQ(find_task(conn(), done)->status, "undetected");
  EXPECT_FALSE(find_task(conn(), done)->error);
}

TEST_F(task_batch, a_retired_pipeline_refuses_its_create_only) {
  pqxx::nontransaction{conn()}.exec(
      "INSERT INTO pipelines (id, title) VALUES (77, 'old') ON CONFLICT DO NOTHING");
  task_write_batch batch;
  batch.creates.push_back({1, 1, "kept-1.jpg"});
  batch.creates.push_back({77, 1, "gone.jpg"});
  batch.creates.push_back({1, 1, "kept-2.jpg"});
  pqxx::nontransaction{conn()}.exec("UPDATE pipelines SET retired_at = now() WHERE id = 77");
  auto results = write_task_batch(conn(), batch);
  ASSERT_EQ(results.created.size(), 3u);
  EXPECT_FALSE(results.created[0].error);
  EXPECT_THROW(rethrow(results.created[1]), pipeline_gone);
  EXPECT_FALSE(results.created[2].error);
  EXPECT_FALSE(results.unavailable);
  EXPECT_EQ(count("filename LIKE 'kept-%'"), 2);
  EXPECT_EQ(count("filename = 'gone.jpg'"), 0);
}

TEST_F(task_batch, a_write_the_statement_refuses_is_retried_alone_and_fails_alone) {
  task_write_batch batch;
  batch.creates.push_back({1, 1, "ok-1.jpg"});
  batch.creates.push_back({1, 99, "no-such-version.jpg"});           // foreign key violation
  batch.creates.push_back({1, 1, std::string("nul\0byte.jpg", 12)}); // NUL: invalid argument
  batch.creates.push_back({1, 1, "ok-2.jpg"});
  auto results = write_task_batch(conn(), batch);
  ASSERT_EQ(results.created.size(), 4u);
  EXPECT_FALSE(results.created[0].error);
  EXPECT_THROW(rethrow(results.created[1]), pqxx::foreign_key_violation);
  EXPECT_THROW(rethrow(results.created[2]), std::invalid_argument);
  EXPECT_FALSE(results.created[3].error);
  EXPECT_FALSE(results.unavailable);
  // Each good write stored exactly once: nothing lost, nothing twice.
  EXPECT_EQ(count("filename = 'ok-1.jpg'"), 1);
  EXPECT_EQ(count("filename = 'ok-2.jpg'"), 1);
  EXPECT_EQ(count("true"), 2);
}

TEST_F(task_batch, a_bad_finish_status_fails_that_write_and_the_rest_are_stored) {
  auto a = create_task(conn(), 1, 1, "a.jpg");
  auto b = create_task(conn(), 1, 1, "b.jpg");
  task_write_batch batch;
  batch.finishes.push_back({a, "exploded", nlohmann::json::array(), 0, 0});
  batch.finishes.push_back({b, "undetected", nlohmann::json::array(), 0, 0});
  auto results = write_task_batch(conn(), batch);
  EXPECT_THROW(rethrow(results.finished[0]), std::invalid_argument);
  EXPECT_TRUE(results.finished[1].value);
  EXPECT_EQ(find_task(conn(), a)->status, "processing");
  EXPECT_EQ(find_task(conn(), b)->status, "undetected");
}

TEST_F(task_batch, a_lost_connection_fails_every_write_and_says_the_database_is_away) {
  auto a = create_task(conn(), 1, 1, "a.jpg");
  // Another session ends this one, as a database restart would.
  pqxx::connection admin{db_.dsn()};
  pqxx::nontransaction{admin}.exec_params("SELECT pg_terminate_backend($1)", conn().backendpid());
  task_write_batch batch;
  batch.creates.push_back({1, 1, "x.jpg"});
  batch.creates.push_back({1, 1, "y.jpg"});
  batch.finishes.push_back({a, "undetected", nlohmann::json::array(), 0, 0});
  auto results = write_task_batch(conn(), batch);
  EXPECT_TRUE(results.unavailable);
  ASSERT_EQ(results.created.size(), 2u);
  ASSERT_EQ(results.finished.size(), 1u);
  for (const auto& r : results.created)
    EXPECT_THROW(rethrow(r), pqxx::broken_connection);
  EXPECT_THROW(rethrow(results.finished[0]), pqxx::broken_connection);
  EXPECT_EQ(pqxx::nontransaction{admin}
                .exec("SELECT count(*) FROM tasks WHERE filename IN ('x.jpg', 'y.jpg')")[0][0]
                .as<int>(),
            0);
}

} // namespace
