// End-to-end: the ML service goes down and comes back. The real imgproc retries, opens its
// circuit breaker (later requests fail at once), and closes it by itself once a trial call
// after the open period finds the real ml_mock answering again.

#include "tests/e2e/helpers.hpp"
#include "tests/support/fake_ml.hpp"
#include "tests/support/process.hpp"

#include <regex>
#include <thread>

namespace imgproc::testing::e2e {
namespace {

using namespace std::chrono_literals;

const std::regex ml_ready{R"(^ml_mock listening on http://[^:]+:\d+$)"};

http_response process_one(const service_stack& stack, int seed) {
  return upload(stack, "/process-image?pipeline_id=1", make_jpeg(64, 64, seed));
}

TEST(ml_faults, the_circuit_opens_while_ml_is_down_and_closes_when_it_is_back) {
  // A port nothing listens on yet: the ML service is "down" until ml_mock starts there.
  const auto port = closed_port();
  const auto ml_url = "http://127.0.0.1:" + std::to_string(port) + "/ml-process-img";
  constexpr int breaker_failures = 5;
  service_stack stack{with_args({"--ml-url=" + ml_url, "--ml-retries=2",
                                 "--ml-breaker-failures=" + std::to_string(breaker_failures),
                                 "--ml-breaker-open-ms=300"},
                                /*ml_mock=*/false)};

  // Down: the first request fails after its retries, with the real cause.
  {
    SCOPED_TRACE("first request, ML down");
    auto detail = expect_error(process_one(stack, 1), 502);
    EXPECT_NE(detail.find("unreachable"), std::string::npos) << detail;
    EXPECT_EQ(detail.find("circuit open"), std::string::npos) << detail;
  }

  // Each request makes up to three attempts, so the circuit opens within a few requests; from
  // then on requests fail at once without calling the ML service. (Should the open period pass
  // between two requests, one trial call fails and opens it again: hence a bounded loop.)
  std::string open_detail;
  for (int i = 0; i < 4 * breaker_failures && open_detail.empty(); ++i) {
    auto response = process_one(stack, 2 + i);
    auto detail = expect_error(response, 502);
    if (detail.find("circuit open") != std::string::npos)
      open_detail = detail;
    else
      EXPECT_NE(detail.find("unreachable"), std::string::npos) << detail;
  }
  ASSERT_FALSE(open_detail.empty()) << "the circuit never opened";
  EXPECT_NE(open_detail.find("detect"), std::string::npos) << open_detail;
  EXPECT_NE(open_detail.find(ml_url), std::string::npos) << open_detail;
  EXPECT_NE(open_detail.find("retrying it in"), std::string::npos) << open_detail;
  // The refused request's row is stored failed, with the reason.
  auto row = last_task(stack.dsn());
  ASSERT_TRUE(row);
  EXPECT_EQ(row->status, "failed");
  EXPECT_TRUE(row->finished);
  EXPECT_TRUE(row->error && row->error->find("circuit open") != std::string::npos)
      << row->error.value_or("(null)");
  expect_healthy(stack);

  // The ML service comes back on the same port.
  child_process ml_mock{{binary_dir() + "/ml_mock", "--port=" + std::to_string(port),
                         "--host=127.0.0.1", "--seed=42", "--detect-probability=0.5",
                         "--log-level=warning"},
                        {},
                        "ml_mock"};
  ml_mock.wait_for_line(ml_ready, 30000ms);

  // Nobody resets anything: after the open period a trial request gets through and closes the
  // circuit. Poll, bounded; every failure until then is a 502.
  std::optional<http_response> ok;
  auto give_up = std::chrono::steady_clock::now() + 20s;
  for (int seed = 100; !ok && std::chrono::steady_clock::now() < give_up; ++seed) {
    auto response = process_one(stack, seed);
    if (response.status == 200) {
      ok = response;
    } else {
      expect_error(response, 502);
      std::this_thread::sleep_for(50ms);
    }
  }
  ASSERT_TRUE(ok) << "requests did not succeed again after ML came back";
  auto body = parse_body(*ok);
  expect_detection_shape(body["status"].get<std::string>(), body["data"]);
  // And it stays closed.
  for (int seed = 200; seed < 205; ++seed) {
    auto response = process_one(stack, seed);
    EXPECT_EQ(response.status, 200) << response.body;
  }
  EXPECT_GE(query_number(stack.dsn(), "SELECT count(*) FROM tasks WHERE status = 'failed' AND "
                                      "error LIKE '%circuit open%'"),
            1);
  EXPECT_EQ(ml_mock.stop(SIGTERM), 0);
}

} // namespace
} // namespace imgproc::testing::e2e
