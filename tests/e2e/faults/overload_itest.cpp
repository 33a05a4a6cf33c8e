// The fault suite (docs/faults.md). Overload: more clients than the service has room for; refused
// requests get 503 with Retry-After, accepted ones an answer, nothing lost or duplicated, memory
// bounded.
// Every request uploads under "overload-<n>.jpg", so the scenario's rows are found by filename
// afterwards; tests/support/fault_report.hpp counts what was sent, answered, stored, lost or
// duplicated.

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

TEST(fault_suite, overload) {
  const std::string scenario = "overload";
  auto started = steady::now();
  constexpr int capacity = 2, queue_limit = 4;
  constexpr auto deadline = 5000ms;
  service_stack stack{with_args(
      {"--capacity=" + std::to_string(capacity), "--queue-limit=" + std::to_string(queue_limit),
       "--request-timeout-ms=" + std::to_string(deadline.count()), "--db-connections=4"})};
  const auto base = stack.base_url();
  const std::string path = "/process-image?pipeline_id=1";
  // Large enough that the service's CPU work, not the test's client, is the bottleneck.
  std::vector<std::string> images;
  for (int i = 0; i < 6; ++i)
    images.push_back(make_jpeg(1024, 768, i));
  request_log log;
  std::atomic<int> number{0};
  auto send_one = [&](std::vector<exchange>* out, std::mutex* mutex) {
    auto name = fault_filename(scenario, ++number);
    auto e = upload_as(base, path, images[static_cast<std::size_t>(number) % images.size()], name);
    log.add(logged(name, e));
    std::lock_guard<std::mutex> lock{*mutex};
    out->push_back(e);
  };

  // 1. The sustainable load: capacity + queue limit clients in a closed loop can never find the
  //    queue full. Their throughput, with no 503, is the rate the service sustains. (Also the
  //    warm-up for the memory baseline.)
  std::vector<exchange> measured;
  std::mutex measured_mutex;
  auto measure_start = steady::now();
  {
    client_threads clients{capacity + queue_limit, [&](int) {
                             if (steady::now() - measure_start > 3s)
                               return false;
                             send_one(&measured, &measured_mutex);
                             return true;
                           }};
    clients.join();
  }
  double measure_seconds = seconds_since(measure_start);
  int measured_ok = 0;
  for (const auto& e : measured) {
    EXPECT_EQ(e.status, 200) << "at the sustainable concurrency: " << e.body
                             << shorten(e.transport_error);
    measured_ok += e.status == 200;
  }
  const double sustainable_rate = measured_ok / measure_seconds;
  ASSERT_GT(sustainable_rate, 1.0);
  const long rss_before = resident_kib(stack.imgproc().pid());

  // 2. Three times that rate, open loop (requests leave on schedule whether or not earlier ones
  //    were answered), for 5 s, while a sampler records the peak VmRSS.
  const double rate = 3 * sustainable_rate;
  const int planned = static_cast<int>(rate * 5); // 5 s of it
  std::vector<exchange> overloaded;
  std::mutex overloaded_mutex;
  std::atomic<long> rss_peak{rss_before};
  std::atomic<bool> sampling{true};
  std::thread sampler([&] {
    while (sampling) {
      try {
        rss_peak = std::max(rss_peak.load(), resident_kib(stack.imgproc().pid()));
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(50ms); // the sampling period
    }
  });
  auto load_start = steady::now();
  {
    std::atomic<int> next{0};
    client_threads senders{32, [&](int) {
                             int i = next++;
                             if (i >= planned)
                               return false;
                             // The schedule of an open-loop load, not a synchronisation.
                             std::this_thread::sleep_until(
                                 load_start + std::chrono::duration_cast<steady::duration>(
                                                  std::chrono::duration<double>(i / rate)));
                             send_one(&overloaded, &overloaded_mutex);
                             return true;
                           }};
    senders.join();
  }
  double load_seconds = seconds_since(load_start);
  sampling = false;
  sampler.join();
  const long rss_after = resident_kib(stack.imgproc().pid());

  std::vector<double> ok_seconds, refused_seconds;
  int ok = 0, refused = 0;
  for (const auto& e : overloaded) {
    if (e.status == 200) {
      ++ok;
      ok_seconds.push_back(e.seconds);
      // The deadline the service promises: an accepted request is answered within it.
      EXPECT_LE(e.seconds, std::chrono::duration<double>(deadline).count()) << e.body;
    } else if (e.status == 503) {
      ++refused;
      refused_seconds.push_back(e.seconds);
      EXPECT_EQ(e.retry_after, "1") << e.body;
      // Refused at once, not after waiting for the deadline.
      EXPECT_LT(e.seconds, std::chrono::duration<double>(deadline).count()) << e.body;
    } else {
      ADD_FAILURE() << "under overload only 200 and 503 are expected, got " << e.status << " "
                    << e.body << shorten(e.transport_error);
    }
  }
  EXPECT_GT(refused, 0) << "3x the sustainable rate never filled the bounded queue";
  EXPECT_GT(ok, 0);
  EXPECT_LE(rss_peak.load(), rss_before + memory_bound_kib)
      << "VmRSS peaked at " << rss_peak << " KiB from " << rss_before << " KiB";
  EXPECT_LE(rss_after, rss_before + memory_bound_kib);
  expect_healthy(stack);

  fault_tally tally{scenario};
  check_stored(tally, stack.dsn(), log.all());
  tally.seconds = seconds_since(started);
  char note[512];
  std::snprintf(note, sizeof note,
                "capacity %d, queue %d: sustainable %.0f req/s (%d clients, no 503); offered %.0f "
                "req/s (3x), sent %.0f req/s: %d x 200 (p50 %s, max %s, deadline %ld ms), %d x "
                "503 (p50 %s, max %s); VmRSS %ld -> peak %ld MiB (bound +%ld MiB)",
                capacity, queue_limit, sustainable_rate, capacity + queue_limit, rate,
                static_cast<double>(overloaded.size()) / load_seconds, ok,
                format_ms(percentile(ok_seconds, 0.5)).c_str(),
                format_ms(percentile(ok_seconds, 1)).c_str(), static_cast<long>(deadline.count()),
                refused, format_ms(percentile(refused_seconds, 0.5)).c_str(),
                format_ms(percentile(refused_seconds, 1)).c_str(), rss_before / 1024,
                rss_peak.load() / 1024, memory_bound_kib / 1024);
  tally.note = note;
  report(tally);
  expect_accounted(tally);
  // Every refused request that has a row has a failed one saying why.
  EXPECT_EQ(query_number(stack.dsn(), "SELECT count(*) FROM tasks WHERE starts_with(filename, "
                                      "'overload-') AND status = 'failed' AND error NOT LIKE "
                                      "'overloaded:%'"),
            0);
}

} // namespace
} // namespace imgproc::testing::e2e
