// The fault suite (docs/faults.md). Deadlines: a request answers by --request-timeout-ms whatever
// stalls, and its row is closed.
// Every request uploads under "deadlines-<n>.jpg", so the scenario's rows are found by filename
// afterwards; tests/support/fault_report.hpp counts what was sent, answered, stored, lost or
// duplicated.

#include "tests/e2e/helpers.hpp"
#include "tests/support/fake_ml.hpp"
#include "tests/support/fault_exchange.hpp"

#include <algorithm>
#include <atomic>
#include <functional>
#include <thread>
#include <unistd.h>

namespace imgproc::testing::e2e {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

TEST(fault_suite, deadlines) {
  const std::string scenario = "deadlines";
  auto started = steady::now();
  // Fault injection: an ML service that reads each request and never answers (a real ml_mock
  // always answers). Only the pipeline "stuck-detect" uses it; pipeline 1 uses ml_mock.
  canned_server stuck{std::nullopt};
  constexpr auto deadline = 1500ms;
  service_stack stack{with_args({"--request-timeout-ms=" + std::to_string(deadline.count()),
                                 "--ml-timeout-ms=60000", "--ml-retries=0", "--ml-concurrency=2",
                                 "--ml-allowed-urls=" + stuck.url()})};
  const auto base = stack.base_url();

  auto pipeline = parse_body(get(stack.url("/pipelines/1")));
  ASSERT_TRUE(pipeline["steps"].is_array()) << pipeline;
  pipeline["title"] = "stuck-detect";
  auto& detect = pipeline["steps"].back();
  ASSERT_EQ(detect["handler"], "detect") << pipeline;
  detect["params"]["url"] = stuck.url();
  auto created = send_request("POST", stack.url("/pipelines"), pipeline.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  const auto stuck_id = std::to_string(parse_body(created)["id"].get<int>());

  request_log log;
  std::atomic<int> number{0};
  auto run_batch = [&](const std::string& pipeline_id, int count) {
    std::vector<exchange> answers(static_cast<std::size_t>(count));
    std::vector<std::thread> threads;
    for (int i = 0; i < count; ++i)
      threads.emplace_back([&, i] {
        auto name = fault_filename(scenario, ++number);
        answers[static_cast<std::size_t>(i)] = upload_as(
            base, "/process-image?pipeline_id=" + pipeline_id, make_jpeg(64, 48, i), name);
        log.add(logged(name, answers[static_cast<std::size_t>(i)]));
      });
    for (auto& t : threads)
      t.join();
    return answers;
  };

  // Four requests whose detect step never gets an answer (twice the detector clients): each is
  // answered 504 at its deadline, and its row is stored failed naming the step.
  auto late = run_batch(stuck_id, 4);
  const double promised = std::chrono::duration<double>(deadline).count();
  for (const auto& e : late) {
    auto detail = expect_error(e.response, 504);
    EXPECT_NE(detail.find("detect"), std::string::npos) << detail;
    // The deadline (plus the dispatcher's 250 ms grace and the final row write).
    EXPECT_LT(e.seconds, promised + 1.0) << detail;
  }
  // The detect steps past the deadline were cancelled: with both detector clients otherwise
  // held for the 60 s ML timeout, these would miss their own deadline.
  auto after = run_batch("1", 4);
  for (const auto& e : after) {
    EXPECT_EQ(e.status, 200) << e.body << shorten(e.transport_error);
    EXPECT_LE(e.seconds, promised);
  }
  expect_healthy(stack);

  fault_tally tally{scenario};
  check_stored(tally, stack.dsn(), log.all());
  tally.seconds = seconds_since(started);
  std::vector<std::string> errors;
  {
    pqxx::connection conn{stack.dsn()};
    pqxx::read_transaction txn{conn};
    for (const auto& row :
         txn.exec_params("SELECT coalesce(error, '(null)') FROM tasks WHERE pipeline_id = $1",
                         std::stoi(stuck_id)))
      errors.push_back(row[0].as<std::string>());
  }
  EXPECT_EQ(errors.size(), 4u);
  for (const auto& error : errors) {
    EXPECT_EQ(error.rfind("deadline_exceeded:", 0), 0u) << error;
    EXPECT_NE(error.find("detect"), std::string::npos) << "the error names no step: " << error;
  }
  tally.note = "deadline " + std::to_string(deadline.count()) +
               " ms, ML never answers, 2 detector clients: 4 x 504 stored failed (" +
               (errors.empty() ? std::string{"no row"} : errors.front().substr(0, 120)) +
               "), then 4 requests on a working pipeline";
  report(tally);
  expect_accounted(tally);
}

} // namespace
} // namespace imgproc::testing::e2e
