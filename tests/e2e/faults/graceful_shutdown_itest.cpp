// The fault suite (docs/faults.md). Graceful shutdown: SIGTERM under load drains the requests in
// flight.
// Every request uploads under "graceful_shutdown-<n>.jpg", so the scenario's rows are found by
// filename afterwards; tests/support/fault_report.hpp counts what was sent, answered, stored, lost
// or duplicated.

#include "tests/e2e/helpers.hpp"
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

TEST(fault_suite, graceful_shutdown) {
  const std::string scenario = "graceful_shutdown";
  auto started = steady::now();
  service_stack stack;
  const auto base = stack.base_url();
  // Large images: each request spends a while in the pipeline, so several are in flight.
  std::vector<std::string> images;
  for (int i = 0; i < 4; ++i)
    images.push_back(make_jpeg(1600, 1200, i));

  request_log log;
  std::vector<exchange> answers;
  std::mutex mutex;
  std::atomic<int> ok{0};
  client_threads clients{6, [&](int n) {
                           auto name = fault_filename(scenario, n);
                           auto e = upload_as(base, "/process-image?pipeline_id=1",
                                              images[static_cast<std::size_t>(n) % 4], name);
                           log.add(logged(name, e));
                           ok += e.status == 200;
                           {
                             std::lock_guard<std::mutex> lock{mutex};
                             answers.push_back(e);
                           }
                           // A client that is refused (503 or no connection) stops.
                           return e.status == 200;
                         }};
  ASSERT_TRUE(wait_until([&] { return ok >= 20; }, 20s)) << "no load before SIGTERM";
  auto signalled = steady::now();
  int code = -1;
  EXPECT_NO_THROW(code = stack.imgproc().stop(SIGTERM, 30s));
  EXPECT_EQ(code, 0) << "imgproc did not exit 0 on SIGTERM under load";
  clients.join();

  // Once the process is gone, nothing is accepted.
  auto late = upload_as(base, "/process-image?pipeline_id=1", images[0], "late.jpg", 5s);
  EXPECT_EQ(late.status, 0) << late.body;

  int in_flight = 0, in_flight_ok = 0;
  for (const auto& e : answers) {
    bool sent_before = e.started < signalled;
    bool answered_after = e.started + std::chrono::duration_cast<steady::duration>(
                                          std::chrono::duration<double>(e.seconds)) >=
                          signalled;
    if (sent_before && answered_after) {
      ++in_flight;
      in_flight_ok += e.status == 200;
    }
    if (sent_before) {
      // In flight at SIGTERM: finished (200), or not yet admitted and refused (503); never
      // dropped without an answer.
      EXPECT_TRUE(e.status == 200 || e.status == 503)
          << "a request sent before SIGTERM got " << e.status << " " << e.body
          << shorten(e.transport_error);
    } else {
      EXPECT_TRUE(e.status == 200 || e.status == 503 || e.status == 0) << e.status << " " << e.body;
    }
    if (e.status == 503) {
      EXPECT_EQ(e.retry_after, "1") << e.body;
    }
  }

  fault_tally tally{scenario};
  check_stored(tally, stack.dsn(), log.all(), 5s);
  tally.seconds = seconds_since(started);
  tally.note = "SIGTERM under 6 clients: exit " + std::to_string(code) + "; " +
               std::to_string(in_flight) + " in flight at the signal, " +
               std::to_string(in_flight_ok) +
               " of them answered 200; afterwards connections "
               "are refused";
  report(tally);
  expect_accounted(tally);
}

} // namespace
} // namespace imgproc::testing::e2e
