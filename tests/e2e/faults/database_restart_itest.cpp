// The fault suite (docs/faults.md). Database restart: PostgreSQL stops and comes back under load.
// Every request uploads under "database_restart-<n>.jpg", so the scenario's rows are found by
// filename afterwards; tests/support/fault_report.hpp counts what was sent, answered, stored, lost
// or duplicated.

#include "tests/e2e/helpers.hpp"
#include "tests/support/fault_exchange.hpp"
#include "tests/support/postgres.hpp"

#include <algorithm>
#include <atomic>
#include <functional>
#include <thread>
#include <unistd.h>

#ifndef IMGPROC_SOURCE_DIR
#error "IMGPROC_SOURCE_DIR must name the repository (tests/CMakeLists.txt defines it)"
#endif

namespace imgproc::testing::e2e {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

TEST(fault_suite, database_restart) {
  const std::string scenario = "database_restart";
  auto started = steady::now();
  // A server of the test's own: stopping the shared fixture server would break other tests.
  private_postgres postgres{std::string{IMGPROC_SOURCE_DIR} + "/scripts/private-postgres"};
  auto options = with_args({"--request-timeout-ms=5000", "--db-statement-timeout-ms=1000"});
  options.admin_dsn = postgres.admin_dsn();
  service_stack stack{options};
  const auto base = stack.base_url();
  // Large enough that each request spends a while between creating its row and storing its
  // result: some are there when the database goes away, and their final write fails.
  std::vector<std::string> images;
  for (int i = 0; i < 4; ++i)
    images.push_back(make_jpeg(1280, 960, i));

  enum stage { before, outage, after };
  std::atomic<int> current{before};
  struct answer_in_phase {
    int phase;
    exchange e;
  };
  std::vector<answer_in_phase> answers;
  std::mutex mutex;
  std::atomic<int> ok_before{0}, ok_after{0};
  request_log log;
  client_threads clients{4, [&](int n) {
                           int phase = current;
                           auto name = fault_filename(scenario, n);
                           auto e = upload_as(base, "/process-image?pipeline_id=1",
                                              images[static_cast<std::size_t>(n) % 4], name);
                           log.add(logged(name, e));
                           if (e.status == 200)
                             ++(phase == after ? ok_after : ok_before);
                           {
                             std::lock_guard<std::mutex> lock{mutex};
                             answers.push_back({phase, e});
                           }
                           // Pacing: a few hundred requests in all, not thousands of 503s.
                           std::this_thread::sleep_for(20ms);
                           return true;
                         }};

  ASSERT_TRUE(wait_until([&] { return ok_before >= 20; }, 15s)) << "no load before the outage";
  current = outage;
  auto outage_start = steady::now();
  postgres.stop(); // fast shutdown: every connection ends
  // Requests keep coming while the database is down.
  std::this_thread::sleep_for(2s);
  postgres.start();
  current = after;
  auto restarted = steady::now();
  const double outage_seconds = std::chrono::duration<double>(restarted - outage_start).count();
  // Rows whose final write failed in the outage: the service must close them by itself.
  const long open_at_restart =
      query_number(stack.dsn(), "SELECT count(*) FROM tasks WHERE status = 'processing' AND "
                                "starts_with(filename, '" +
                                    scenario + "-')");
  bool reconnected = wait_until([&] { return ok_after >= 20; }, 30s);
  double recovery_seconds = seconds_since(restarted);
  clients.stop();
  clients.join();
  EXPECT_TRUE(reconnected) << "the service did not serve 200s within 30 s of the database's "
                              "return (it should reconnect by itself)";

  // Afterwards everything works.
  auto ok =
      upload_as(base, "/process-image?pipeline_id=1", images[0], fault_filename(scenario, 100000));
  log.add(logged(fault_filename(scenario, 100000), ok));
  ASSERT_EQ(ok.status, 200) << ok.body << shorten(ok.transport_error);
  auto id = parse_body(ok.response)["id"].get<std::int64_t>();
  EXPECT_EQ(get(stack.url("/tasks/" + std::to_string(id))).status, 200);
  EXPECT_EQ(get(stack.url("/ready")).status, 200);
  EXPECT_EQ(get(stack.url("/tasks?limit=5")).status, 200);
  expect_healthy(stack);

  std::map<int, std::map<long, int>> by_phase;
  double slowest_refusal = 0;
  for (const auto& a : answers) {
    ++by_phase[a.phase][a.e.status];
    if (a.e.status != 200 && a.e.status != 503 && a.e.status != 504)
      ADD_FAILURE() << "during a database restart only 200, 503 and 504 are expected, got "
                    << a.e.status << " " << a.e.body << shorten(a.e.transport_error);
    if (a.e.status == 503)
      slowest_refusal = std::max(slowest_refusal, a.e.seconds);
  }
  EXPECT_GT(by_phase[outage][503], 0) << "no request met the outage";

  fault_tally tally{scenario};
  check_stored(tally, stack.dsn(), log.all(), 30s);
  tally.seconds = seconds_since(started);
  long half_written = half_written_rows(stack.dsn(), scenario);
  EXPECT_EQ(half_written, 0) << "rows closed without their result, reason or finish time";
  // Not a loss (the client was told the result was not stored), but worth knowing: a request
  // answered with an error whose row nevertheless holds a result.
  int refused_but_stored = 0;
  for (const auto& r : log.all())
    if (r.status != 200 && !r.filename.empty())
      for (const auto& [status, error] : rows_named(stack.dsn(), r.filename))
        refused_but_stored += status != "failed" && status != "processing";
  auto phase_text = [&](int p) {
    std::string out;
    for (const auto& [status, count] : by_phase[p])
      out += (out.empty() ? "" : ",") + std::to_string(status) + ":" + std::to_string(count);
    return out.empty() ? std::string{"-"} : out;
  };
  tally.note = "PostgreSQL down (fast stop to started again) for " + format_ms(outage_seconds) +
               " under 4 clients; before " + phase_text(before) + ", outage " + phase_text(outage) +
               ", after " + phase_text(after) + "; 20 x 200 again " + format_ms(recovery_seconds) +
               " after the restart; slowest 503 " + format_ms(slowest_refusal) +
               "; rows processing at the restart " + std::to_string(open_at_restart) +
               "; half-written rows " + std::to_string(half_written) +
               "; answered 503 but stored a result " + std::to_string(refused_but_stored);
  report(tally);
  expect_accounted(tally);
}

} // namespace
} // namespace imgproc::testing::e2e
