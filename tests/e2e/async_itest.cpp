// End-to-end: asynchronous mode. POST /process-image?async=true answers 202 once the task and its
// upload are committed; any running imgproc claims queued tasks (FOR UPDATE SKIP LOCKED), and
// after kill -9 of the processes running them every accepted task still reaches a final state,
// once.

#include "tests/e2e/helpers.hpp"
#include "tests/support/fake_ml.hpp"
#include "tests/support/fault_report.hpp"
#include "tests/support/process.hpp"

#include <regex>
#include <thread>

namespace imgproc::testing::e2e {
namespace {

using namespace std::chrono_literals;

const std::regex imgproc_ready{R"(^imgproc listening on http://[^:]+:(\d+)$)"};

bool is_final(const std::string& status) {
  return status == "detected" || status == "undetected" || status == "processed" ||
         status == "failed";
}

/// Polls GET `url` until the task's status is final; returns the last body.
json await_final(const std::string& url, std::chrono::milliseconds timeout) {
  auto give_up = std::chrono::steady_clock::now() + timeout;
  json body;
  while (std::chrono::steady_clock::now() < give_up) {
    auto response = get(url);
    if (response.status == 200) {
      body = json::parse(response.body);
      if (is_final(body.value("status", "")))
        return body;
    }
    std::this_thread::sleep_for(50ms);
  }
  return body;
}

/// Polls `sql` (a count) until it returns `expected`; returns the last value.
long long await_count(const std::string& dsn, const std::string& sql, long long expected,
                      std::chrono::milliseconds timeout) {
  auto give_up = std::chrono::steady_clock::now() + timeout;
  long long value = query_number(dsn, sql);
  while (value != expected && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(20ms);
    value = query_number(dsn, sql);
  }
  return value;
}

/// Another imgproc process on the stack's database (as a second machine would run one).
std::unique_ptr<child_process> start_imgproc(const service_stack& stack, const std::string& name,
                                             std::vector<std::string> args) {
  std::vector<std::string> argv{binary_dir() + "/imgproc",
                                "serve",
                                "--port=0",
                                "--host=127.0.0.1",
                                "--db=" + stack.dsn(),
                                "--log-level=warning",
                                "--db-connections=2"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto child = std::make_unique<child_process>(argv, std::map<std::string, std::string>{}, name);
  child->wait_for_line(imgproc_ready, 30s);
  return child;
}

TEST(async, a_queued_task_is_answered_202_and_runs_to_a_stored_result) {
  service_stack stack;
  auto image = make_jpeg(320, 240, 5);
  auto response = upload(stack, "/process-image?pipeline_id=1&async=true", image, "cam.jpg");
  ASSERT_EQ(response.status, 202) << response.body;
  auto body = parse_body(response);
  ASSERT_TRUE(body["id"].is_number_integer()) << body;
  const auto id = body["id"].get<std::int64_t>();
  EXPECT_EQ(body["pipeline_id"], 1);
  EXPECT_EQ(body["status"], "queued");
  EXPECT_EQ(body["filename"], "cam.jpg");
  EXPECT_EQ(response.headers["location"], "/tasks/" + std::to_string(id));
  // Committed before the answer: the row and its upload exist now, whatever happens next.
  EXPECT_EQ(
      query_number(stack.dsn(), "SELECT count(*) FROM tasks WHERE id = " + std::to_string(id)), 1);

  auto final_body = await_final(stack.url("/tasks/" + std::to_string(id)), 20s);
  ASSERT_TRUE(is_final(final_body.value("status", ""))) << final_body;
  expect_detection_shape(final_body["status"].get<std::string>(), final_body["data"]);
  EXPECT_EQ(final_body["filename"], "cam.jpg");
  // Operators see the claim in the process's metrics.
  auto metrics = get(stack.url("/metrics"));
  EXPECT_TRUE(std::regex_search(
      metrics.body, std::regex{R"(imgproc_async_tasks_total\{[^}]*event="claimed"[^}]*\} 1\b)"}))
      << metrics.body.substr(0, 2000);
  // The upload is deleted once the task is final (by the runner's periodic clean-up).
  EXPECT_EQ(await_count(stack.dsn(), "SELECT count(*) FROM task_inputs", 0, 15s), 0);
  expect_healthy(stack);
}

TEST(async, bad_flags_and_unknown_pipelines_are_refused_and_nothing_is_queued) {
  service_stack stack;
  auto image = make_jpeg(64, 64, 1);
  expect_error(upload(stack, "/process-image?pipeline_id=1&async=maybe", image), 400);
  expect_error(upload(stack, "/process-image?pipeline_id=999&async=true", image), 404);
  expect_error(upload(stack, "/process-image?pipeline_id=1&async=true", "not a jpeg"), 415);
  EXPECT_EQ(query_number(stack.dsn(), "SELECT count(*) FROM tasks"), 0);
  // async=false is the synchronous call.
  auto sync = upload(stack, "/process-image?pipeline_id=1&async=false", image);
  EXPECT_EQ(sync.status, 200) << sync.body;
}

TEST(async, a_full_queue_answers_503_with_retry_after) {
  // Accepts only (claims nothing), so the queue fills.
  service_stack stack{with_args({"--async-concurrency=0", "--async-queue-limit=3"})};
  auto image = make_jpeg(64, 64, 2);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(upload(stack, "/process-image?pipeline_id=1&async=true", image).status, 202);
  auto refused = upload(stack, "/process-image?pipeline_id=1&async=true", image);
  expect_error(refused, 503);
  EXPECT_FALSE(refused.headers["retry-after"].empty());
  EXPECT_EQ(query_number(stack.dsn(), "SELECT count(*) FROM tasks"), 3);
}

TEST(async, a_task_no_node_can_run_goes_back_to_the_queue_uncounted_and_runs_later) {
  // No node runs jobs (capacity 0, no workers): every claim is refused by the dispatcher.
  service_stack stack{with_args({"--capacity=0", "--async-poll-ms=50"})};
  auto response = upload(stack, "/process-image?pipeline_id=1&async=true", make_jpeg(64, 64, 3));
  ASSERT_EQ(response.status, 202) << response.body;
  const auto id = std::to_string(parse_body(response)["id"].get<std::int64_t>());

  // Claimed, refused, released: seen in the metrics, and the row is queued again, its attempt
  // not counted (not failed, as a refusal would otherwise leave it).
  auto give_up = std::chrono::steady_clock::now() + 10s;
  std::string metrics;
  const std::regex released{R"(imgproc_async_tasks_total\{[^}]*event="released"[^}]*\} [1-9])"};
  while (std::chrono::steady_clock::now() < give_up &&
         !std::regex_search(metrics = get(stack.url("/metrics")).body, released))
    std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(std::regex_search(metrics, released)) << metrics.substr(0, 2000);
  EXPECT_EQ(await_count(stack.dsn(),
                        "SELECT count(*) FROM tasks WHERE status = 'queued' AND attempts = 0 "
                        "AND id = " +
                            id,
                        1, 5s),
            1);

  // A process that can run it (as when a node joins) takes it to a result.
  stack.restart_imgproc({"--capacity=2"});
  auto final_body = await_final(stack.url("/tasks/" + id), 20s);
  EXPECT_TRUE(final_body.value("status", "") == "detected" ||
              final_body.value("status", "") == "undetected")
      << final_body;
}

// The asynchronous scenario of the fault suite (docs/faults.md): processes that share the queue
// are killed with tasks in hand, and a restarted one finishes everything exactly once.
TEST(async, processes_share_the_queue_and_kill_9_loses_and_duplicates_nothing) {
  const auto started = std::chrono::steady_clock::now();
  // The front process only accepts; B and C claim. Their ML service is a fake that reads each
  // call and never answers (a real part cannot be made to hold calls on demand), so the tasks
  // they claimed are still in hand when they are killed.
  service_stack stack{with_args({"--async-concurrency=0"})};
  canned_server holding_ml{std::nullopt};
  const std::vector<std::string> claimer_args{"--ml-url=" + holding_ml.url(),
                                              "--ml-timeout-ms=60000", "--request-timeout-ms=60000",
                                              "--async-concurrency=2", "--async-poll-ms=50"};
  auto b = start_imgproc(stack, "imgproc-b", claimer_args);
  auto c = start_imgproc(stack, "imgproc-c", claimer_args);

  constexpr int tasks = 20;
  request_log log;
  for (int i = 0; i < tasks; ++i) {
    auto name = fault_filename("async_kill9", i);
    auto response = upload(stack, "/process-image?pipeline_id=1&async=true",
                           make_jpeg(160, 120, 100 + i), name);
    EXPECT_EQ(response.status, 202) << response.body;
    log.add({name, response.status, response.body});
  }

  // Each claimer holds two tasks in its ML calls; nobody took a task twice.
  ASSERT_TRUE(holding_ml.wait_for_requests(4, 20s)) << holding_ml.requests();
  ASSERT_EQ(
      await_count(stack.dsn(), "SELECT count(*) FROM tasks WHERE status = 'processing'", 4, 10s),
      4);
  EXPECT_EQ(query_number(stack.dsn(), "SELECT count(DISTINCT owner) FROM tasks "
                                      "WHERE status = 'processing'"),
            2)
      << "both processes claim from the one queue";
  EXPECT_EQ(query_number(stack.dsn(), "SELECT count(*) FROM tasks WHERE status = 'queued'"),
            tasks - 4);

  b->kill();
  c->kill();
  // A process started after the crash (as a restart would be) requeues the dead ones' claims and
  // runs every task against the real ml_mock.
  auto d =
      start_imgproc(stack, "imgproc-d", {"--ml-url=" + stack.ml_url(), "--async-concurrency=4"});

  fault_tally tally{"async_kill9"};
  check_stored(tally, stack.dsn(), log.all(), 45s);
  tally.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  tally.note = "2 claimers killed -9 holding 4 tasks; a new process finished all";
  report(tally);
  EXPECT_EQ(tally.sent, tasks);
  EXPECT_EQ(tally.answered[202], tasks);
  EXPECT_EQ(tally.lost, 0) << problems_text(tally);
  EXPECT_EQ(tally.duplicated, 0) << problems_text(tally);
  EXPECT_EQ(tally.stored["detected"] + tally.stored["undetected"], tasks)
      << "every task ran to a result, none failed";
  // The four killed claims ran a second time; every other task once.
  EXPECT_EQ(query_number(stack.dsn(), "SELECT count(*) FROM tasks WHERE attempts = 2"), 4);
  EXPECT_EQ(query_number(stack.dsn(), "SELECT count(*) FROM tasks WHERE attempts = 1"), tasks - 4);
  EXPECT_EQ(d->stop(SIGTERM), 0);
}

} // namespace
} // namespace imgproc::testing::e2e
