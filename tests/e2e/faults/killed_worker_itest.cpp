// The fault suite (docs/faults.md). A killed worker node: its jobs in flight run again elsewhere
// within their deadline.
// Every request uploads under "killed_worker-<n>.jpg", so the scenario's rows are found by filename
// afterwards; tests/support/fault_report.hpp counts what was sent, answered, stored, lost or
// duplicated.

#include "tests/e2e/helpers.hpp"
#include "tests/support/cluster.hpp"
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

int completed_by(const json& cluster, const std::string& name) {
  for (const auto& node : cluster.at("nodes"))
    if (node.at("name") == name)
      return node.at("completed").get<int>();
  return 0;
}

TEST(fault_suite, killed_worker) {
  const std::string scenario = "killed_worker";
  auto started = steady::now();
  cluster_stack stack; // a gateway, workers w1 and w2, ml_mock
  stack.wait_for_nodes_up(2, 5000ms);
  constexpr int requests = 120;
  request_log log;
  std::atomic<int> answered{0};
  client_threads clients{4, [&](int n) {
                           if (n >= requests)
                             return false;
                           auto name = fault_filename(scenario, n);
                           auto e = upload_as(stack.url(""), "/process-image?pipeline_id=1",
                                              make_jpeg(64, 48, n), name);
                           log.add(logged(name, e));
                           ++answered;
                           return true;
                         }};
  stack.wait_for_cluster([](const json& c) { return completed_by(c, "w2") >= 3; }, 10000ms,
                         "w2 working");
  stack.worker("w2").kill(); // SIGKILL
  int answered_at_kill = answered;
  clients.join();
  EXPECT_LT(answered_at_kill, requests) << "the stream ended before the kill";

  auto all = log.all();
  ASSERT_EQ(all.size(), static_cast<std::size_t>(requests));
  for (const auto& r : all)
    EXPECT_EQ(r.status, 200) << r.filename << ": " << r.body;
  fault_tally tally{scenario};
  check_stored(tally, stack.dsn(), all);
  tally.seconds = seconds_since(started);
  auto cluster = stack.cluster_json();
  int redispatched = 0;
  for (const auto& node : cluster.at("nodes"))
    redispatched += node.value("redispatched", 0);
  tally.note = "kill -9 of worker w2 after " + std::to_string(answered_at_kill) + " of " +
               std::to_string(requests) + " answers (4 clients); w1 completed " +
               std::to_string(completed_by(cluster, "w1")) + ", w2 " +
               std::to_string(completed_by(cluster, "w2")) + ", jobs re-dispatched " +
               std::to_string(redispatched);
  report(tally);
  expect_accounted(tally);
}

} // namespace
} // namespace imgproc::testing::e2e
