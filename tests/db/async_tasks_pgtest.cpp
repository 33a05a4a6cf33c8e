// The queue of asynchronous tasks (db/task_repository.hpp, migration 0006) against a real
// PostgreSQL: enqueue, claim with SKIP LOCKED from competing sessions, finish under a claim,
// release, and the requeue of claims whose process is gone.

#include "db/connection.hpp"
#include "db/migrations.hpp"
#include "db/task_repository.hpp"
#include "tests/support/postgres.hpp"

#include <algorithm>
#include <atomic>
#include <gtest/gtest.h>
#include <map>
#include <mutex>
#include <pqxx/pqxx>
#include <set>
#include <thread>

namespace {

using namespace imgproc::db;
using imgproc::testing::scratch_database;

class async_tasks : public ::testing::Test {
protected:
  void SetUp() override {
    conn_ = connect_as("");
    apply_migrations(*conn_);
    prepare_task_statements(*conn_);
  }

  pqxx::connection& conn() { return *conn_; }

  /// A session named `application_name`, as one imgproc process's connection would be.
  std::unique_ptr<pqxx::connection> connect_as(const std::string& application_name) {
    auto conn = std::make_unique<pqxx::connection>(db_.dsn());
    set_application_name(*conn, application_name);
    if (conn_) // migrations applied: the statements can be prepared
      prepare_task_statements(*conn);
    return conn;
  }

  std::int64_t count(const std::string& sql) {
    return pqxx::nontransaction{conn()}.exec(sql)[0][0].as<std::int64_t>();
  }

  scratch_database db_;
  std::unique_ptr<pqxx::connection> conn_;
};

// Bytes a text path would mangle: NUL, high bytes, a quote and a backslash.
const std::string image_bytes{"\xff\xd8\x00\x01'\\\x80\xff\xd9", 9};

TEST_F(async_tasks, enqueue_stores_the_task_queued_with_its_upload) {
  const auto id = enqueue_task(conn(), 1, 1, "cam.jpg", image_bytes, 100);
  const auto task = find_task(conn(), id);
  ASSERT_TRUE(task);
  EXPECT_EQ(task->status, "queued");
  EXPECT_EQ(task->attempts, 0);
  EXPECT_FALSE(task->owner); // nobody works on it yet
  EXPECT_FALSE(task->finished_at);
  auto stored = pqxx::nontransaction{conn()}.exec_params(
      "SELECT image FROM task_inputs WHERE task_id = $1", id);
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(pqxx::binarystring{stored[0][0]}.str(), image_bytes);
}

TEST_F(async_tasks, enqueue_refuses_an_inactive_pipeline_and_stores_nothing) {
  pqxx::nontransaction{conn()}.exec("UPDATE pipelines SET retired_at = now() WHERE id = 1");
  EXPECT_THROW(enqueue_task(conn(), 1, 1, "a.jpg", image_bytes, 100), pipeline_gone);
  EXPECT_THROW(enqueue_task(conn(), 999, 1, "a.jpg", image_bytes, 100), pipeline_gone);
  EXPECT_EQ(count("SELECT count(*) FROM tasks"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM task_inputs"), 0);
}

TEST_F(async_tasks, a_full_queue_refuses_further_tasks) {
  enqueue_task(conn(), 1, 1, "1.jpg", image_bytes, 2);
  enqueue_task(conn(), 1, 1, "2.jpg", image_bytes, 2);
  EXPECT_THROW(enqueue_task(conn(), 1, 1, "3.jpg", image_bytes, 2), queue_full);
  EXPECT_EQ(count("SELECT count(*) FROM tasks"), 2);
  // Claimed tasks no longer count against the queue.
  ASSERT_EQ(claim_tasks(conn(), 1).size(), 1u);
  EXPECT_NO_THROW(enqueue_task(conn(), 1, 1, "3.jpg", image_bytes, 2));
}

TEST_F(async_tasks, claim_takes_the_oldest_with_its_bytes_under_the_sessions_name) {
  const auto first = enqueue_task(conn(), 1, 1, "first.jpg", image_bytes, 100);
  const auto second = enqueue_task(conn(), 1, 1, "second.jpg", "other", 100);
  auto worker = connect_as("imgproc:worker-a");
  auto claimed = claim_tasks(*worker, 1);
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].id, first);
  EXPECT_EQ(claimed[0].pipeline_id, 1);
  EXPECT_EQ(claimed[0].pipeline_version, 1);
  EXPECT_EQ(claimed[0].filename, "first.jpg");
  EXPECT_EQ(claimed[0].attempt, 1);
  EXPECT_EQ(claimed[0].image, image_bytes);
  const auto task = find_task(conn(), first);
  EXPECT_EQ(task->status, "processing");
  EXPECT_EQ(task->owner.value_or(""), "imgproc:worker-a");
  EXPECT_EQ(find_task(conn(), second)->status, "queued");
  EXPECT_TRUE(claim_tasks(*worker, 0).empty());
}

TEST_F(async_tasks, competing_sessions_claim_every_task_exactly_once) {
  constexpr int tasks = 300;
  for (int i = 0; i < tasks; ++i)
    enqueue_task(conn(), 1, 1, "t" + std::to_string(i) + ".jpg", image_bytes, 1000);
  std::mutex lock;
  std::multiset<std::int64_t> claimed;
  std::map<std::string, int> per_session;
  std::vector<std::thread> threads;
  for (int s = 0; s < 4; ++s)
    threads.emplace_back([&, s] {
      auto name = "imgproc:claimer-" + std::to_string(s);
      auto session = connect_as(name);
      for (;;) {
        auto batch = claim_tasks(*session, 7);
        if (batch.empty())
          return;
        std::lock_guard guard{lock};
        for (const auto& task : batch)
          claimed.insert(task.id);
        per_session[name] += static_cast<int>(batch.size());
      }
    });
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(claimed.size(), static_cast<std::size_t>(tasks));
  EXPECT_EQ(std::set<std::int64_t>(claimed.begin(), claimed.end()).size(),
            static_cast<std::size_t>(tasks))
      << "a task was claimed twice";
  EXPECT_EQ(count("SELECT count(*) FROM tasks WHERE status = 'queued'"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM tasks WHERE attempts <> 1"), 0);
}

TEST_F(async_tasks, only_the_current_claim_can_finish_or_fail_the_task) {
  const auto id = enqueue_task(conn(), 1, 1, "a.jpg", image_bytes, 100);
  const auto claim = claim_tasks(conn(), 1).at(0);
  EXPECT_FALSE(finish_task(conn(), id, "undetected", nlohmann::json::array(), claim.attempt + 1));
  EXPECT_FALSE(finish_task(conn(), id, "undetected", nlohmann::json::array())); // as a sync task
  EXPECT_FALSE(fail_task(conn(), id, "stale claim", claim.attempt - 1));
  EXPECT_EQ(find_task(conn(), id)->status, "processing");
  EXPECT_TRUE(finish_task(conn(), id, "undetected", nlohmann::json::array(), claim.attempt));
  EXPECT_FALSE(fail_task(conn(), id, "late", claim.attempt)); // final is final
  EXPECT_EQ(find_task(conn(), id)->status, "undetected");
}

TEST_F(async_tasks, finish_records_the_version_that_ran) {
  pqxx::nontransaction{conn()}.exec(
      "INSERT INTO pipeline_versions (pipeline_id, version, title, description, steps) "
      "SELECT pipeline_id, 2, title, description, steps FROM pipeline_versions "
      "WHERE pipeline_id = 1 AND version = 1");
  const auto id = enqueue_task(conn(), 1, 1, "a.jpg", image_bytes, 100);
  const auto claim = claim_tasks(conn(), 1).at(0);
  ASSERT_TRUE(finish_task(conn(), id, "undetected", nlohmann::json::array(), claim.attempt, 2));
  EXPECT_EQ(find_task(conn(), id)->pipeline_version.value_or(0), 2);
}

TEST_F(async_tasks, a_released_claim_is_queued_again_without_counting) {
  const auto id = enqueue_task(conn(), 1, 1, "a.jpg", image_bytes, 100);
  const auto claim = claim_tasks(conn(), 1).at(0);
  EXPECT_FALSE(release_task(conn(), id, claim.attempt + 1));
  EXPECT_TRUE(release_task(conn(), id, claim.attempt));
  const auto task = find_task(conn(), id);
  EXPECT_EQ(task->status, "queued");
  EXPECT_EQ(task->attempts, 0);
  EXPECT_FALSE(task->owner);
  EXPECT_EQ(claim_tasks(conn(), 1).at(0).attempt, 1);
}

TEST_F(async_tasks, claims_of_a_gone_process_are_requeued_and_live_ones_kept) {
  const auto dead_task = enqueue_task(conn(), 1, 1, "dead.jpg", image_bytes, 100);
  const auto live_task = enqueue_task(conn(), 1, 1, "live.jpg", image_bytes, 100);
  const auto sync_task = create_task(conn(), 1, 1, "sync.jpg"); // no owner: not ours to requeue
  {
    auto dead = connect_as("imgproc:dead");
    ASSERT_EQ(claim_tasks(*dead, 1).at(0).id, dead_task);
  } // the session ends, as when its process is killed
  auto live = connect_as("imgproc:live");
  ASSERT_EQ(claim_tasks(*live, 1).at(0).id, live_task);

  // pg_stat_activity forgets a closed session after its backend exits: poll briefly.
  requeue_counts counts;
  for (int i = 0; i < 100 && counts.requeued == 0; ++i) {
    counts = requeue_abandoned_tasks(conn(), 3, "abandoned");
    if (counts.requeued == 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(counts.requeued, 1);
  EXPECT_EQ(counts.failed, 0);
  EXPECT_EQ(find_task(conn(), dead_task)->status, "queued");
  EXPECT_FALSE(find_task(conn(), dead_task)->owner);
  EXPECT_EQ(find_task(conn(), live_task)->status, "processing");
  EXPECT_EQ(find_task(conn(), sync_task)->status, "processing");
  // The next claim is attempt 2; the first claimer cannot finish it any more.
  auto again = claim_tasks(*live, 1);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempt, 2);
  EXPECT_FALSE(finish_task(conn(), dead_task, "undetected", nlohmann::json::array(), 1));
  EXPECT_TRUE(finish_task(conn(), dead_task, "undetected", nlohmann::json::array(), 2));
}

TEST_F(async_tasks, a_task_abandoned_max_attempts_times_is_failed) {
  const auto id = enqueue_task(conn(), 1, 1, "poison.jpg", image_bytes, 100);
  pqxx::nontransaction{conn()}.exec_params(
      "UPDATE tasks SET status = 'processing', attempts = 3, owner = 'imgproc:gone' "
      "WHERE id = $1",
      id);
  const auto counts = requeue_abandoned_tasks(conn(), 3, "abandoned 3 times");
  EXPECT_EQ(counts.requeued, 0);
  EXPECT_EQ(counts.failed, 1);
  const auto task = find_task(conn(), id);
  EXPECT_EQ(task->status, "failed");
  EXPECT_EQ(task->error.value_or(""), "abandoned 3 times");
  EXPECT_TRUE(task->finished_at);
}

TEST_F(async_tasks, requeue_waits_for_min_age_since_the_claim) {
  const auto id = enqueue_task(conn(), 1, 1, "a.jpg", image_bytes, 100);
  pqxx::nontransaction{conn()}.exec_params(
      "UPDATE tasks SET status = 'processing', attempts = 1, owner = 'imgproc:gone', "
      "claimed_at = now(), created_at = now() - interval '1 hour' WHERE id = $1",
      id);
  EXPECT_EQ(requeue_abandoned_tasks(conn(), 3, "x", std::chrono::seconds(60)).requeued, 0);
  // The sweeps of stuck rows also count from the claim, not from when it was queued.
  EXPECT_EQ(fail_stale_tasks(conn(), "stale", std::chrono::seconds(60)), 0);
  EXPECT_EQ(find_task(conn(), id)->status, "processing");
}

TEST_F(async_tasks, uploads_are_deleted_once_their_task_is_final) {
  const auto done = enqueue_task(conn(), 1, 1, "done.jpg", image_bytes, 100);
  const auto waiting = enqueue_task(conn(), 1, 1, "waiting.jpg", image_bytes, 100);
  const auto claim = claim_tasks(conn(), 1).at(0);
  ASSERT_EQ(claim.id, done);
  EXPECT_EQ(delete_finished_inputs(conn()), 0); // claimed is not final
  ASSERT_TRUE(fail_task(conn(), done, "ml_unavailable: down", claim.attempt));
  EXPECT_EQ(delete_finished_inputs(conn()), 1);
  EXPECT_EQ(count("SELECT count(*) FROM task_inputs WHERE task_id = " + std::to_string(waiting)),
            1);
}

} // namespace
