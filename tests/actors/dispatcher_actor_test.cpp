// The dispatcher on CAF's deterministic scheduler, with scripted nodes (tests/actors/
// deterministic.hpp): a node dying with jobs, a full queue, a node refusing a job, and the late
// answer of a node the dispatcher had given up on. The end-to-end suites cover the same paths
// with real processes, where the order of events cannot be chosen.

#include "tests/actors/deterministic.hpp"

#include <gtest/gtest.h>

namespace imgproc::testing {
namespace {

using namespace std::chrono_literals;

class dispatcher_test : public ::testing::Test {
protected:
  dispatcher_test() {
    settings_.gateway_name = "gw";
    settings_.queue_limit = 1;
  }

  ~dispatcher_test() override {
    // Scripted nodes hold response promises, which hold their actors: end every actor here.
    caf::anon_send_exit(dispatcher_, caf::exit_reason::kill);
    for (const auto& node : nodes_)
      caf::anon_send_exit(node, caf::exit_reason::kill);
    deliver();
  }

  /// Delivers every message now due; timers fire only when a test advances the clock.
  void deliver() { fx_.sched.run(); }

  void start() { dispatcher_ = spawn_dispatcher(fx_.sys, settings_); }

  std::shared_ptr<node_script> join(const std::string& name, int capacity) {
    auto script = std::make_shared<node_script>();
    script->name = name;
    auto node = spawn_scripted_node(fx_.sys, script);
    caf::anon_send(dispatcher_, join_atom::value, caf::actor_cast<caf::actor>(node),
                   node_info{name, name + "-host", capacity, false});
    nodes_.push_back(node);
    deliver();
    return script;
  }

  void submit_job(std::int64_t task_id) {
    node_job job;
    job.task_id = task_id;
    job.pipeline_id = 1;
    job.steps_json = "[]";
    job.time_left_ms = 60000;
    submit(fx_.sys, dispatcher_, job, answers_);
    deliver();
  }

  const std::vector<result<node_result>>& answers() const { return answers_->answers; }

  test_coordinator_fixture<> fx_;
  dispatcher_settings settings_;
  dispatcher_actor dispatcher_;
  std::vector<node_actor> nodes_;
  std::shared_ptr<job_answers> answers_ = std::make_shared<job_answers>();
};

TEST_F(dispatcher_test, a_node_that_dies_with_a_job_has_it_run_on_another_node) {
  start();
  auto a = join("a", 1);
  auto b = join("b", 1);
  submit_job(1);
  ASSERT_EQ(a->jobs.size() + b->jobs.size(), 1u);
  auto [dead, other] = a->jobs.empty() ? std::pair{b, a} : std::pair{a, b};
  auto dead_handle = nodes_[dead == a ? 0 : 1];
  caf::anon_send_exit(dead_handle, caf::exit_reason::kill);
  deliver();
  ASSERT_EQ(other->jobs.size(), 1u) << "the job moved to the node that is still up";
  EXPECT_EQ(other->jobs.front().request.task_id, 1);
  EXPECT_TRUE(answers().empty());
  other->finish_oldest();
  deliver();
  ASSERT_EQ(answers().size(), 1u);
  ASSERT_TRUE(answers()[0].ok());
  EXPECT_EQ(answers()[0].value().node, other->name);
}

TEST_F(dispatcher_test, a_full_queue_refuses_at_once_and_a_freed_slot_takes_the_queued_job) {
  start();
  auto a = join("a", 1);
  submit_job(1); // runs on a
  submit_job(2); // waits: the queue holds one
  submit_job(3); // refused
  ASSERT_EQ(a->jobs.size(), 1u);
  ASSERT_EQ(answers().size(), 1u);
  ASSERT_FALSE(answers()[0].ok());
  EXPECT_EQ(answers()[0].error().code, error_code::overloaded);
  EXPECT_NE(answers()[0].error().detail.find("every node is busy"), std::string::npos)
      << answers()[0].error().detail;
  EXPECT_EQ(settings_.admission->load(), admission_state::full);

  a->finish_oldest();
  deliver();
  ASSERT_EQ(answers().size(), 2u);
  EXPECT_TRUE(answers()[1].ok());
  ASSERT_EQ(a->jobs.size(), 1u) << "the queued job took the freed slot";
  EXPECT_EQ(a->jobs.front().request.task_id, 2);
  EXPECT_EQ(settings_.admission->load(), admission_state::accepting);
}

TEST_F(dispatcher_test, a_job_a_node_refuses_runs_elsewhere_and_the_node_gets_no_more) {
  start();
  auto leaving = join("leaving", 4);
  leaving->refuses = true;
  auto steady = join("steady", 1);
  submit_job(1);
  submit_job(2);
  // Whatever the order of picks, "leaving" refused at most one job and was drained: both ran on
  // "steady", one after the other, and none was failed for the refusal.
  EXPECT_LE(leaving->refused, 1);
  ASSERT_EQ(steady->jobs.size(), 1u);
  steady->finish_oldest();
  deliver();
  ASSERT_EQ(steady->jobs.size(), 1u);
  steady->finish_oldest();
  deliver();
  ASSERT_EQ(answers().size(), 2u);
  for (const auto& answer : answers()) {
    ASSERT_TRUE(answer.ok()) << answer.error().detail;
    EXPECT_EQ(answer.value().node, "steady");
  }
  submit_job(3);
  EXPECT_LE(leaving->refused, 1) << "a refusing node is drained, not asked again";
  EXPECT_EQ(steady->jobs.size(), 1u);
}

TEST_F(dispatcher_test, the_late_answer_of_a_node_given_up_on_is_ignored) {
  start();
  auto a = join("a", 1);
  auto b = join("b", 1);
  submit_job(1);
  auto [first, second] = a->jobs.empty() ? std::pair{b, a} : std::pair{a, b};
  auto first_handle = nodes_[first == a ? 0 : 1];
  // The link to `first` is reported lost (its process presumed dead) while it still runs the job.
  caf::anon_send(caf::actor_cast<caf::actor>(dispatcher_),
                 caf::down_msg{first_handle.address(), caf::exit_reason::remote_link_unreachable});
  deliver();
  ASSERT_EQ(second->jobs.size(), 1u) << "the job was sent again";
  // `first` finishes after all: its answer belongs to an earlier attempt.
  first->finish_oldest("undetected");
  deliver();
  EXPECT_TRUE(answers().empty()) << "a stale answer must not reach the requester";
  second->finish_oldest("detected");
  deliver();
  ASSERT_EQ(answers().size(), 1u);
  ASSERT_TRUE(answers()[0].ok());
  EXPECT_EQ(answers()[0].value().node, second->name);
  EXPECT_EQ(answers()[0].value().status, "detected");
}

} // namespace
} // namespace imgproc::testing
