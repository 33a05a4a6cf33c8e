// GET /metrics after real requests: counters move by exactly what was sent, the output passes
// Prometheus's own checker (promtool, Debian's prometheus package), and every request gets an
// X-Request-Id and one log line.

#include "tests/e2e/helpers.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <pqxx/pqxx>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

namespace imgproc::testing::e2e {
namespace {

/// Every sample line of a scrape: "name{labels}" -> value, labels as printed.
std::map<std::string, double> samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    auto space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

/// The value of the first series of `name` whose labels include every `label="value"` pair.
double value_of(const std::map<std::string, double>& scrape, const std::string& name,
                const std::vector<std::string>& labels) {
  for (const auto& [series, value] : scrape) {
    if (series.rfind(name + "{", 0) != 0)
      continue;
    bool all = true;
    for (const auto& label : labels)
      all = all && series.find(label) != std::string::npos;
    if (all)
      return value;
  }
  return 0;
}

std::string scrape(const service_stack& stack) {
  auto response = get(stack.url("/metrics"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.header("content-type").rfind("text/plain", 0), 0u);
  return response.body;
}

/// promtool's verdict on a scrape: its exit code, output in `report`.
int promtool_check(const std::string& text, std::string& report) {
  char path[] = "/tmp/imgproc-metrics-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  {
    std::ofstream file{path};
    file << text;
  }
  close(fd);
  std::string command = std::string{"promtool check metrics < "} + path + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  EXPECT_NE(pipe, nullptr) << "promtool is missing: scripts/setup installs Debian's prometheus";
  char buffer[512];
  while (pipe && fgets(buffer, sizeof buffer, pipe))
    report += buffer;
  int status = pipe ? pclose(pipe) : -1;
  std::remove(path);
  return status;
}

TEST(metrics, counters_move_by_exactly_what_was_sent_and_promtool_accepts_them) {
  service_stack stack{with_mock(7, 1.0)}; // every answer is a detection
  auto before = samples(scrape(stack));
  const int sent = 5;
  for (int i = 0; i < sent; ++i)
    ASSERT_EQ(upload(stack, "/process-image?pipeline_id=1", make_jpeg(64, 48, i)).status, 200);
  expect_error(upload(stack, "/process-image?pipeline_id=1", "not a jpeg"), 415);
  auto text = scrape(stack);
  auto after = samples(text);
  auto delta = [&](const std::string& name, const std::vector<std::string>& labels) {
    return value_of(after, name, labels) - value_of(before, name, labels);
  };

  EXPECT_EQ(delta("imgproc_http_requests_total", {R"(route="/process-image")", R"(status="200")"}),
            sent);
  EXPECT_EQ(delta("imgproc_http_requests_total", {R"(route="/process-image")", R"(status="415")"}),
            1);
  EXPECT_EQ(delta("imgproc_tasks_total", {R"(pipeline="1")", R"(outcome="detected")"}), sent);
  // The car pipeline: decode and four transform steps (resize, normalize, encode, base64) go to
  // an image worker as one message, then one ML call per request; the 415 never reaches a stage.
  EXPECT_EQ(delta("caf_actor_processed_messages_total", {R"(name="image_worker")"}), sent);
  EXPECT_EQ(delta("caf_actor_processed_messages_total", {R"(name="detector_client")"}), sent);
  EXPECT_EQ(delta("caf_actor_processed_messages_total", {R"(name="node")"}), sent);
  EXPECT_EQ(delta("caf_actor_processing_time_seconds_count", {R"(name="image_worker")"}), sent);
  EXPECT_EQ(delta("caf_actor_mailbox_time_seconds_count", {R"(name="image_worker")"}), sent);
  EXPECT_EQ(delta("imgproc_step_duration_seconds_count", {R"(handler="decode_jpeg")"}), sent);
  EXPECT_EQ(delta("imgproc_step_duration_seconds_count", {R"(handler="base64")"}), sent);
  EXPECT_EQ(delta("imgproc_ml_call_duration_seconds_count", {}), sent);
  EXPECT_EQ(delta("imgproc_db_write_duration_seconds_count", {R"(operation="create")"}), sent);
  EXPECT_EQ(delta("imgproc_db_write_duration_seconds_count", {R"(operation="finish")"}), sent);
  EXPECT_EQ(value_of(after, "caf_actor_mailbox_size", {R"(name="image_worker")"}), 0);
  EXPECT_GT(value_of(after, "process_resident_memory_bytes", {}), 0);
  EXPECT_GT(value_of(after, "process_open_fds", {}), 0);
  EXPECT_GT(value_of(after, "caf_system_running_actors", {R"(name="image_worker")"}), 0);

  std::string report;
  EXPECT_EQ(promtool_check(text, report), 0) << report;
}

/// What the persistence actor's group writes did for `sent` requests that arrived while its
/// first write waited on a table lock.
struct grouped_writes {
  double arrived = 0; ///< writes the actor had taken or had in its mailbox at the release
  double rows = 0;    ///< rows written (the histogram's sum)
  double flushes = 0; ///< group writes (its count)
  double at_most_one = 0, at_most_two = 0; ///< group writes of at most 1 and 2 rows
};

grouped_writes write_behind_a_lock(const std::string& write_group, int sent) {
  // One persistence actor; its first write waits on a table lock the test holds, so the other
  // requests' creates pile up in its mailbox. No asynchronous-queue polling: its claims would
  // queue at the same actor.
  service_stack stack{with_args({"--db-connections=1", "--db-write-group=" + write_group,
                                 "--db-statement-timeout-ms=30000", "--async-concurrency=0",
                                 "--async-poll-ms=600000"})};
  auto before = samples(scrape(stack));
  pqxx::connection locker{stack.dsn()};
  pqxx::work lock{locker};
  lock.exec("LOCK TABLE tasks IN EXCLUSIVE MODE"); // reads go on, inserts wait

  std::vector<int> statuses(sent, 0);
  std::vector<std::thread> clients;
  for (int i = 0; i < sent; ++i)
    clients.emplace_back([&, i] {
      statuses[i] = upload(stack, "/process-image?pipeline_id=1", make_jpeg(64, 48, i)).status;
    });
  // Wait until every create has reached the actor: taken into the group now waiting on the lock
  // (handled messages) or still in its mailbox. Then the rest of them form the next group.
  grouped_writes out;
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < give_up) {
    auto now = samples(scrape(stack));
    const std::vector<std::string> persistence{R"(name="persistence")"};
    out.arrived = value_of(now, "caf_actor_processed_messages_total", persistence) -
                  value_of(before, "caf_actor_processed_messages_total", persistence) +
                  value_of(now, "caf_actor_mailbox_size", persistence);
    if (out.arrived >= sent)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  lock.commit();
  for (auto& client : clients)
    client.join();
  for (int i = 0; i < sent; ++i)
    EXPECT_EQ(statuses[i], 200) << "request " << i;

  auto after = samples(scrape(stack));
  auto delta = [&](const std::string& name, const std::vector<std::string>& labels) {
    return value_of(after, name, labels) - value_of(before, name, labels);
  };
  out.rows = delta("imgproc_db_write_batch_rows_sum", {});
  out.flushes = delta("imgproc_db_write_batch_rows_count", {});
  out.at_most_one = delta("imgproc_db_write_batch_rows_bucket", {R"(le="1")"});
  out.at_most_two = delta("imgproc_db_write_batch_rows_bucket", {R"(le="2")"});
  EXPECT_EQ(delta("imgproc_db_write_duration_seconds_count", {R"(operation="create")"}), sent);
  EXPECT_EQ(delta("imgproc_db_write_duration_seconds_count", {R"(operation="finish")"}), sent);
  EXPECT_EQ(query_number(stack.dsn(), "SELECT count(*) FROM tasks WHERE status <> 'processing'"),
            sent);
  return out;
}

TEST(metrics, row_writes_queued_behind_a_busy_connection_are_written_together) {
  constexpr int sent = 8;
  auto groups = write_behind_a_lock("64", sent);
  EXPECT_GE(groups.arrived, sent);
  // Every create and finish written exactly once, in fewer group writes than rows: the creates
  // that waited were written together.
  EXPECT_EQ(groups.rows, 2 * sent);
  EXPECT_LT(groups.at_most_one, groups.flushes);
  EXPECT_LT(groups.flushes, 2 * sent);
}

TEST(metrics, the_write_group_limit_caps_each_group_write) {
  constexpr int sent = 8;
  auto pairs = write_behind_a_lock("2", sent);
  EXPECT_EQ(pairs.rows, 2 * sent);
  EXPECT_EQ(pairs.at_most_two, pairs.flushes) << "no group write of more than 2 rows";
  EXPECT_LT(pairs.at_most_one, pairs.flushes) << "the waiting creates went two at a time";

  auto alone = write_behind_a_lock("1", sent);
  EXPECT_EQ(alone.rows, 2 * sent);
  EXPECT_EQ(alone.flushes, 2 * sent) << "each row written alone";
  EXPECT_EQ(alone.at_most_one, alone.flushes);
}

TEST(metrics, probes_without_nodes_leave_no_phantom_mailbox_entries) {
  // No node can run jobs: /ready answers 503 before it asks the database, so nothing may be
  // counted as sent to a persistence actor.
  service_stack stack{with_args({"--capacity=0", "--cluster-port=0"})};
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(get(stack.url("/ready")).status, 503);
  auto after = samples(scrape(stack));
  EXPECT_EQ(value_of(after, "caf_actor_mailbox_size", {R"(name="persistence")"}), 0);
  EXPECT_EQ(
      value_of(after, "imgproc_http_requests_total", {R"(route="/ready")", R"(status="503")"}), 3);
  EXPECT_EQ(value_of(after, "imgproc_http_requests_in_flight", {}), 1); // the scrape itself
}

TEST(metrics, every_request_has_an_id_header_and_one_log_line) {
  service_stack stack{with_args({"--log-level=info"})};
  auto answer = upload(stack, "/process-image?pipeline_id=1", make_jpeg(32, 32, 1));
  ASSERT_EQ(answer.status, 200) << answer.body;
  auto id = answer.header("x-request-id");
  ASSERT_FALSE(id.empty());
  auto mine = send_request("GET", stack.url("/health"), "", {"X-Request-Id: trace-abc.1"});
  EXPECT_EQ(mine.header("x-request-id"), "trace-abc.1"); // a plain client id is kept
  auto hostile = send_request("GET", stack.url("/health"), "", {"X-Request-Id: a b\"c"});
  EXPECT_NE(hostile.header("x-request-id"), "a b\"c"); // anything else is replaced

  // The line is written when the answer is: stop the service to flush and read its log.
  stack.imgproc().stop();
  std::ifstream log{stack.imgproc().stderr_path()};
  std::string text{std::istreambuf_iterator<char>(log), {}};
  std::regex line{"request: id=" + id +
                  " method=POST route=/process-image status=200 duration_ms=[0-9.]+ pipeline=1 "
                  "node=\\S+"};
  EXPECT_TRUE(std::regex_search(text, line))
      << text.substr(text.size() > 3000 ? text.size() - 3000 : 0);
}

} // namespace
} // namespace imgproc::testing::e2e
