// The pipeline actor on CAF's deterministic scheduler, with a scripted catalogue, persistence
// and dispatcher (tests/actors/deterministic.hpp): its deadline passing while a row is being
// created and while the result is being stored, and the database going away during the final
// write and coming back. The end-to-end fault suite covers the same paths with a real PostgreSQL,
// where the moment a deadline falls cannot be chosen.

#include "actors/request/pipeline_actor.hpp"
#include "tests/actors/deterministic.hpp"

#include <gtest/gtest.h>

namespace imgproc::testing {
namespace {

using namespace std::chrono_literals;

/// What the pipeline actor answered, in order.
struct recorded_answers final : answer_channel<task_answer> {
  std::vector<result<task_answer>> answers;
  void send(result<task_answer> answer) override { answers.push_back(std::move(answer)); }
};

class pipeline_actor_test : public ::testing::Test {
protected:
  ~pipeline_actor_test() override {
    for (const auto& handle : {caf::actor_cast<caf::actor>(services_->catalog),
                               caf::actor_cast<caf::actor>(services_->dispatcher),
                               caf::actor_cast<caf::actor>(persistence_)})
      caf::anon_send_exit(handle, caf::exit_reason::kill);
    deliver();
  }

  /// Delivers every message now due; timers fire only when a test advances the clock.
  void deliver() { fx_.sched.run(); }

  /// Moves the clock on by `by`, firing the timers due by then, and delivers what they sent.
  void advance(caf::timespan by) {
    fx_.sched.clock().advance_time(by);
    deliver();
  }

  /// Starts one request for pipeline 1 whose deadline is `deadline` from now.
  void start(std::chrono::milliseconds deadline = 5000ms,
             std::chrono::milliseconds db_timeout = std::chrono::hours(1)) {
    auto plan = std::make_shared<pipeline_plan>();
    plan->id = 1;
    plan->version = 3;
    plan->steps_json = "[]";
    // By default database requests never time out by themselves: the test answers each one.
    services_->db_timeout = db_timeout;
    services_->catalog = spawn_scripted_catalog(fx_.sys, plan);
    persistence_ = spawn_scripted_persistence(fx_.sys, rows_);
    services_->persistence.add(persistence_, std::make_shared<load_counter>());
    services_->dispatcher = spawn_scripted_dispatcher(fx_.sys, jobs_);
    process_request request;
    request.pipeline_id = 1;
    request.filename = "car.jpg";
    request.image = "jpeg bytes";
    request.deadline = std::chrono::steady_clock::now() + deadline;
    request.request_id = "req-1";
    spawn_pipeline(fx_.sys, services_, std::move(request), answers_,
                   std::make_unique<running_pipeline>(services_));
    deliver();
  }

  /// Queues an answer to the oldest held request of `queue` and delivers it.
  template <class Held, class Value> void answer(std::vector<Held>& queue, Value value) {
    ASSERT_FALSE(queue.empty());
    auto promise = queue.front().promise;
    queue.erase(queue.begin());
    auto* script = owner_of(queue);
    script->answer_later([promise, value]() mutable { promise.deliver(value); });
    deliver();
  }

  answer_queue* owner_of(const std::vector<held<node_job, node_result>>&) { return jobs_.get(); }
  template <class T> answer_queue* owner_of(const T&) { return rows_.get(); }

  static caf::error database_gone() {
    return to_caf_error(make_failure(error_code::database_unavailable, "connection lost"));
  }

  const std::vector<result<task_answer>>& answers() const { return answers_->answers; }

  test_coordinator_fixture<> fx_;
  services_ptr services_ = std::make_shared<pipeline_services>();
  std::shared_ptr<persistence_script> rows_ = std::make_shared<persistence_script>();
  std::shared_ptr<dispatcher_script> jobs_ = std::make_shared<dispatcher_script>();
  std::shared_ptr<recorded_answers> answers_ = std::make_shared<recorded_answers>();
  persistence_actor persistence_;
};

TEST_F(pipeline_actor_test, a_deadline_while_the_row_is_created_answers_at_once_and_fails_the_row) {
  start(5000ms);
  ASSERT_EQ(rows_->creates.size(), 1u);
  EXPECT_EQ(rows_->creates[0].request.pipeline_version, 3);
  advance(6s); // the deadline passes; the row's insert has not answered
  ASSERT_EQ(answers().size(), 1u);
  ASSERT_FALSE(answers()[0].ok());
  EXPECT_EQ(answers()[0].error().code, error_code::deadline_exceeded);
  EXPECT_EQ(services_->running_pipelines.load(), 1) << "the actor waits for the row";

  answer(rows_->creates, std::int64_t{7}); // the row exists after all
  ASSERT_EQ(rows_->fails.size(), 1u) << "the row is closed, not left processing";
  EXPECT_EQ(rows_->fails[0].request.task_id, 7);
  EXPECT_EQ(rows_->fails[0].request.error.rfind("deadline_exceeded: ", 0), 0u)
      << rows_->fails[0].request.error;
  EXPECT_TRUE(jobs_->jobs.empty()) << "no image work for a request that ran out of time";
  answer(rows_->fails, true);
  EXPECT_EQ(answers().size(), 1u) << "answered exactly once";
  EXPECT_EQ(services_->running_pipelines.load(), 0);
}

TEST_F(pipeline_actor_test, a_deadline_while_the_result_is_stored_waits_for_the_write) {
  start(5000ms);
  answer(rows_->creates, std::int64_t{7});
  ASSERT_EQ(jobs_->jobs.size(), 1u);
  EXPECT_EQ(jobs_->jobs[0].request.task_id, 7);
  answer(jobs_->jobs, node_answer("detected", {{"top_left_x", 3}}, "worker-1"));
  ASSERT_EQ(rows_->finishes.size(), 1u);
  advance(6s); // the deadline passes while the result's row write is in flight
  EXPECT_TRUE(answers().empty()) << "the write decides the answer, not the deadline";

  answer(rows_->finishes, true);
  ASSERT_EQ(answers().size(), 1u);
  ASSERT_TRUE(answers()[0].ok()) << answers()[0].error().detail;
  const auto& task = answers()[0].value();
  EXPECT_EQ(task.id, 7);
  EXPECT_EQ(task.status, "detected");
  EXPECT_EQ(task.node, "worker-1");
  EXPECT_EQ(task.data, nlohmann::json({{"top_left_x", 3}}));
  EXPECT_TRUE(rows_->fails.empty());
  EXPECT_EQ(services_->running_pipelines.load(), 0);
}

TEST_F(pipeline_actor_test,
       a_database_away_at_the_final_write_answers_503_and_closes_the_row_later) {
  start(5000ms);
  answer(rows_->creates, std::int64_t{7});
  answer(jobs_->jobs, node_answer("undetected", nlohmann::json::array(), "local"));
  answer(rows_->finishes, database_gone());
  // The client hears at once that its result was not stored.
  ASSERT_EQ(answers().size(), 1u);
  ASSERT_FALSE(answers()[0].ok());
  EXPECT_EQ(answers()[0].error().code, error_code::database_unavailable);
  EXPECT_TRUE(rows_->fails.empty()) << "the retry waits for its backoff";

  advance(100ms); // first backoff
  ASSERT_EQ(rows_->fails.size(), 1u);
  answer(rows_->fails, database_gone()); // still away
  advance(199ms);
  EXPECT_TRUE(rows_->fails.empty()) << "the second backoff is longer";
  advance(1ms);
  ASSERT_EQ(rows_->fails.size(), 1u);
  EXPECT_EQ(rows_->fails[0].request.task_id, 7);
  EXPECT_EQ(rows_->fails[0].request.error,
            "database_unavailable: the result could not be stored in time");
  EXPECT_EQ(services_->running_pipelines.load(), 1);
  answer(rows_->fails, true); // the database is back: the row is closed
  EXPECT_EQ(services_->running_pipelines.load(), 0);
  EXPECT_EQ(answers().size(), 1u) << "answered exactly once";
}

TEST_F(pipeline_actor_test, the_late_answer_of_a_write_that_timed_out_is_ignored) {
  start(5000ms, 1000ms);
  answer(rows_->creates, std::int64_t{7});
  answer(jobs_->jobs, node_answer("detected", {{"top_left_x", 3}}, "local"));
  ASSERT_EQ(rows_->finishes.size(), 1u);
  auto late_finish = rows_->finishes[0];
  advance(1000ms); // the result's write times out: treated as the database being away
  ASSERT_EQ(answers().size(), 1u);
  EXPECT_EQ(answers()[0].error().code, error_code::database_unavailable);
  advance(100ms); // the retry closes the row as failed
  ASSERT_EQ(rows_->fails.size(), 1u);

  // The first write answers after all: its request is over, so nothing changes.
  rows_->answer_later([promise = late_finish.promise]() mutable { promise.deliver(true); });
  deliver();
  EXPECT_EQ(answers().size(), 1u) << "no second answer for the late write";
  EXPECT_EQ(services_->running_pipelines.load(), 1) << "the retried write still decides";
  answer(rows_->fails, false); // the row was stored by the late write: the failure changes nothing
  EXPECT_EQ(services_->running_pipelines.load(), 0);
  EXPECT_EQ(answers().size(), 1u);
}

} // namespace
} // namespace imgproc::testing
