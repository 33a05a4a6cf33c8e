// The fault suite (docs/faults.md). ML faults: an ML service that hangs, fails or answers garbage.
// Every request uploads under "ml_faults-<n>.jpg", so the scenario's rows are found by filename
// afterwards; tests/support/fault_report.hpp counts what was sent, answered, stored, lost or
// duplicated.

#include "tests/e2e/helpers.hpp"
#include "tests/support/fake_ml.hpp"
#include "tests/support/fault_exchange.hpp"
#include "tests/support/process.hpp"

#include <algorithm>
#include <atomic>
#include <functional>
#include <thread>
#include <unistd.h>

namespace imgproc::testing::e2e {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

TEST(fault_suite, ml_faults) {
  const std::string scenario = "ml_faults";
  auto started = steady::now();
  // Down: a port nothing listens on until the real ml_mock starts there.
  const auto down_port = closed_port();
  const auto down_url = "http://127.0.0.1:" + std::to_string(down_port) + "/ml-process-img";
  // Fault injection for what ml_mock cannot do on demand: hang, fail with 500 for a while, answer
  // garbage.
  silent_server slow;
  std::vector<std::string> script(
      6, sequence_server::response("500 Internal Server Error", "{\"detail\":\"oops\"}"));
  script.push_back(sequence_server::response("200 OK", "[]"));
  sequence_server failing{script};
  canned_server garbage{canned_server::ok_response("<html>not a detection</html>")};

  service_stack stack{
      with_args({"--ml-url=" + down_url, "--ml-timeout-ms=300", "--ml-retries=1",
                 "--ml-breaker-failures=3", "--ml-breaker-open-ms=300", "--request-timeout-ms=5000",
                 "--ml-allowed-urls=" + slow.url() + "," + failing.url() + "," + garbage.url()},
                /*ml_mock=*/false)};
  const auto base = stack.base_url();

  // One pipeline per faulty ML service: pipeline 1's steps with the detect step's url replaced.
  auto template_pipeline = parse_body(get(stack.url("/pipelines/1")));
  auto make_pipeline = [&](const std::string& title, const std::string& url) {
    auto p = template_pipeline;
    p["title"] = title;
    p["steps"].back()["params"]["url"] = url;
    auto created = send_request("POST", stack.url("/pipelines"), p.dump());
    EXPECT_EQ(created.status, 201) << created.body;
    return std::to_string(parse_body(created).value("id", 0));
  };
  const std::vector<std::pair<std::string, std::string>> faults{
      {"down", "1"},
      {"slow", make_pipeline("ml-slow", slow.url())},
      {"500", make_pipeline("ml-500", failing.url())},
      {"garbage", make_pipeline("ml-garbage", garbage.url())}};

  request_log log;
  int number = 0;
  std::map<std::string, std::string> sample_error;
  auto send = [&](const std::string& pipeline_id, int seed) {
    auto name = fault_filename(scenario, ++number);
    auto e =
        upload_as(base, "/process-image?pipeline_id=" + pipeline_id, make_jpeg(64, 48, seed), name);
    log.add(logged(name, e));
    return std::make_pair(name, e);
  };

  // Each fault: 502 (or 504 should the deadline cut it short), and the row failed with the
  // reason the client was given.
  for (const auto& [fault, pipeline_id] : faults) {
    SCOPED_TRACE("ML " + fault);
    for (int i = 0; i < 4; ++i) {
      auto [name, e] = send(pipeline_id, i);
      EXPECT_TRUE(e.status == 502 || e.status == 504)
          << e.status << " " << e.body << shorten(e.transport_error);
      auto detail = expect_error(e.response, e.status);
      EXPECT_NE(detail.find("detect"), std::string::npos) << detail;
      auto rows = rows_named(stack.dsn(), name);
      ASSERT_EQ(rows.size(), 1u);
      EXPECT_EQ(rows[0].first, "failed");
      EXPECT_NE(rows[0].second.find(detail), std::string::npos)
          << "stored: " << rows[0].second << "\nanswered: " << detail;
      sample_error.emplace(fault, detail.substr(0, 80));
      expect_healthy(stack);
    }
  }

  // Recovery by itself: ml_mock starts on the port that was down; the 500-answering service
  // turns healthy after its script. No restart, no reset: requests succeed again once the
  // circuit's trial call finds the service answering. Every failure until then is a 502.
  child_process ml_mock{{binary_dir() + "/ml_mock", "--port=" + std::to_string(down_port),
                         "--host=127.0.0.1", "--seed=7", "--log-level=warning"},
                        {},
                        "ml_mock"};
  ml_mock.wait_for_line(std::regex{R"(^ml_mock listening on http://[^:]+:\d+$)"}, 30s);
  std::map<std::string, double> recovered_after;
  for (const auto& [fault, pipeline_id] : {faults[0], faults[2]}) {
    SCOPED_TRACE("recovery from ML " + fault);
    auto since = steady::now();
    bool ok = wait_until(
        [&, pipeline_id = pipeline_id] {
          auto [name, e] = send(pipeline_id, 100 + number);
          if (e.status != 200) {
            EXPECT_EQ(e.status, 502) << e.body << shorten(e.transport_error);
          }
          return e.status == 200;
        },
        20s, 50ms);
    ASSERT_TRUE(ok) << "requests did not succeed again after ML " << fault << " recovered";
    recovered_after[fault] = seconds_since(since);
    for (int i = 0; i < 3; ++i) {
      auto [name, e] = send(pipeline_id, 200 + i);
      EXPECT_EQ(e.status, 200) << e.body;
    }
  }
  expect_healthy(stack);

  fault_tally tally{scenario};
  check_stored(tally, stack.dsn(), log.all());
  tally.seconds = seconds_since(started);
  tally.note = "down/slow/500/garbage: 4 requests each, 502 stored failed with the answer's "
               "reason; back to 200 after ML came back: down " +
               format_ms(recovered_after["down"]) + ", 500 " + format_ms(recovered_after["500"]);
  report(tally);
  expect_accounted(tally);
  EXPECT_EQ(ml_mock.stop(SIGTERM), 0);
}

} // namespace
} // namespace imgproc::testing::e2e
