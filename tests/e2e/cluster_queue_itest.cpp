// End-to-end: the gateway's bounded queue. With every node full, a request waits in a FIFO queue
// of --queue-limit jobs; one more is refused at once with 503 and Retry-After, and /cluster counts
// it. The held requests still get exactly one answer each (504 at their deadline), and no task
// row stays 'processing'.

#include "tests/e2e/helpers.hpp"
#include "tests/support/cluster.hpp"
#include "tests/support/fake_ml.hpp"

#include <future>
#include <optional>
#include <thread>

namespace imgproc::testing::e2e {
namespace {

using std::chrono::milliseconds;

http_response process(const cluster_stack& stack, int seed) {
  return post_multipart(
      stack.url("/process-image?pipeline_id=1"),
      {file_field("image_file", make_jpeg(64, 48, seed), "img" + std::to_string(seed) + ".jpg")});
}

/// The answer to one request, or the transport error that replaced it.
struct outcome {
  std::optional<http_response> response;
  std::string transport_error;
};

std::future<outcome> process_in_background(const cluster_stack& stack, int seed) {
  return std::async(std::launch::async, [&stack, seed] {
    outcome out;
    try {
      out.response = process(stack, seed);
    } catch (const std::exception& e) {
      out.transport_error = e.what();
    }
    return out;
  });
}

int queue_value(const json& cluster, const char* key) {
  return cluster.at("queue").at(key).get<int>();
}

int total(const json& cluster, const char* key) {
  return cluster.at("totals").at(key).get<int>();
}

/// A request held until its deadline passed: one 504 with a JSON detail.
void expect_deadline_answer(const outcome& out) {
  ASSERT_EQ(out.transport_error, "");
  ASSERT_TRUE(out.response);
  auto detail = expect_error(*out.response, 504);
  EXPECT_NE(detail.find("ran out of time"), std::string::npos) << detail;
}

TEST(cluster_queue, a_full_queue_refuses_at_once_with_503_and_retry_after) {
  // Fault injection: the worker's ML service reads each request and never answers, so a job
  // holds the worker's only slot until the request's deadline.
  canned_server stuck{std::nullopt};
  cluster_options options;
  options.workers = {};
  // The deadline ends the held requests; it only has to outlast the set-up of the third one.
  options.gateway_args = {"--queue-limit=1", "--request-timeout-ms=5000"};
  cluster_stack stack{options};
  stack.add_worker("w1", {"--capacity=1", "--ml-url=" + stuck.url(), "--ml-timeout-ms=60000"});
  auto cluster = stack.wait_for_nodes_up(1, milliseconds(5000));
  ASSERT_EQ(total(cluster, "capacity"), 1) << cluster.dump();
  ASSERT_EQ(queue_value(cluster, "limit"), 1) << cluster.dump();
  ASSERT_EQ(queue_value(cluster, "rejected"), 0) << cluster.dump();

  // Request 1 takes the slot, request 2 the one place in the queue.
  auto first = process_in_background(stack, 1);
  stack.wait_for_cluster([](const json& c) { return total(c, "in_flight") == 1; },
                         milliseconds(10000), "one job in flight");
  auto second = process_in_background(stack, 2);
  stack.wait_for_cluster([](const json& c) { return queue_value(c, "length") == 1; },
                         milliseconds(10000), "one job queued");

  // Request 3 finds both taken.
  auto third = process(stack, 3);
  auto detail = expect_error(third, 503);
  EXPECT_EQ(third.header("retry-after"), "1");
  EXPECT_NE(detail.find("busy"), std::string::npos) << detail;
  cluster = stack.cluster_json();
  EXPECT_EQ(queue_value(cluster, "rejected"), 1) << cluster.dump();
  EXPECT_EQ(queue_value(cluster, "length"), 1) << cluster.dump();
  EXPECT_EQ(total(cluster, "in_flight"), 1) << cluster.dump();
  EXPECT_EQ(stuck.requests(), 1); // only request 1 has reached the ML service

  // The held requests end at their deadline, one answer each.
  {
    SCOPED_TRACE("request 1 (running)");
    expect_deadline_answer(first.get());
  }
  {
    SCOPED_TRACE("request 2 (queued)");
    expect_deadline_answer(second.get());
  }

  // Each row is closed right after its answer: poll, bounded.
  const auto& dsn = stack.dsn();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (query_number(dsn, "SELECT count(*) FROM tasks WHERE status = 'processing'") > 0 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(milliseconds(20)); // between polls, not a sync point
  EXPECT_EQ(query_number(dsn, "SELECT count(*) FROM tasks WHERE status = 'processing'"), 0);
  // Requests 1 and 2 failed at their deadline. The refused one may have a row too, but only a
  // failed one saying why.
  EXPECT_EQ(query_number(dsn,
                         "SELECT count(*) FROM tasks WHERE filename IN ('img1.jpg', "
                         "'img2.jpg') AND status = 'failed' AND error LIKE 'deadline_exceeded:%'"),
            2);
  EXPECT_EQ(query_number(dsn, "SELECT count(*) FROM tasks WHERE filename = 'img3.jpg' AND NOT "
                              "(status = 'failed' AND coalesce(error, '') LIKE 'overloaded:%')"),
            0);
  EXPECT_LE(query_number(dsn, "SELECT count(*) FROM tasks WHERE filename = 'img3.jpg'"), 1);
  EXPECT_LE(query_number(dsn, "SELECT count(*) FROM tasks"), 3);

  cluster = stack.wait_for_cluster([](const json& c) { return total(c, "in_flight") == 0; },
                                   milliseconds(5000), "nothing in flight");
  EXPECT_EQ(queue_value(cluster, "length"), 0) << cluster.dump();
  EXPECT_EQ(queue_value(cluster, "rejected"), 1) << cluster.dump();
}

} // namespace
} // namespace imgproc::testing::e2e
