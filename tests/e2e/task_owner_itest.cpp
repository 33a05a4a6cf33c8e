// End-to-end: task rows record the instance that created them (tasks.owner, the application_name
// "imgproc:<16 hex>" every imgproc process gives its sessions), and a starting gateway fails only
// the 'processing' rows whose owner is gone, not those of another gateway still running on the
// same database.

#include "tests/e2e/helpers.hpp"
#include "tests/support/fake_ml.hpp"

#include <functional>
#include <future>
#include <pqxx/pqxx>
#include <regex>
#include <thread>

namespace imgproc::testing::e2e {
namespace {

using std::chrono::milliseconds;

const std::regex instance_name{"^imgproc:[0-9a-f]{16}$"};
const std::regex imgproc_ready{R"(^imgproc listening on http://[^:]+:\d+$)"};
constexpr milliseconds startup_timeout{30000};

/// Polls `done` (every 20 ms) until it holds; false after `timeout`.
bool poll_until(const std::function<bool()>& done, milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(milliseconds(20)); // between polls, not a sync point
  }
  return true;
}

/// The owner column of task `id` ("" when NULL).
std::string owner_of(const std::string& dsn, std::int64_t id) {
  pqxx::connection conn{dsn};
  pqxx::read_transaction txn{conn};
  auto value = txn.exec_params1("SELECT owner FROM tasks WHERE id = $1", id)[0];
  return value.is_null() ? "" : value.as<std::string>();
}

/// Sessions of the test's database named `application_name`, as the sweep sees them.
long long sessions_named(const std::string& dsn, const std::string& application_name) {
  pqxx::connection conn{dsn};
  pqxx::read_transaction txn{conn};
  return txn
      .exec_params1("SELECT count(*) FROM pg_stat_activity"
                    " WHERE application_name = $1 AND datname = current_database()",
                    application_name)[0]
      .as<long long>();
}

/// One more `imgproc serve` on the stack's database (so another instance), waited for until it
/// listens: its start-up sweep of abandoned rows is done by then.
std::unique_ptr<child_process> start_serve(const service_stack& stack, const std::string& ml_url,
                                           const std::string& name) {
  auto process = std::make_unique<child_process>(
      std::vector<std::string>{binary_dir() + "/imgproc", "serve", "--port=0", "--host=127.0.0.1",
                               "--db=" + stack.dsn(), "--ml-url=" + ml_url, "--log-level=warning",
                               "--db-connections=2", "--db-wait-ms=10000"},
      std::map<std::string, std::string>{}, name);
  process->wait_for_line(imgproc_ready, startup_timeout);
  return process;
}

TEST(task_owner, rows_record_the_creating_instance) {
  service_stack stack;
  auto first = upload(stack, "/process-image?pipeline_id=1", make_jpeg(64, 48, 1));
  ASSERT_EQ(first.status, 200) << first.body;
  auto first_id = parse_body(first)["id"].get<std::int64_t>();
  auto owner = owner_of(stack.dsn(), first_id);
  EXPECT_TRUE(std::regex_match(owner, instance_name)) << owner;
  // The owner is the name of the live instance's sessions: what the sweep looks for.
  EXPECT_GE(sessions_named(stack.dsn(), owner), 1) << owner;

  // A restarted process is another instance, with a name of its own.
  EXPECT_EQ(stack.restart_imgproc(), 0);
  auto second = upload(stack, "/process-image?pipeline_id=1", make_jpeg(64, 48, 2));
  ASSERT_EQ(second.status, 200) << second.body;
  auto second_owner = owner_of(stack.dsn(), parse_body(second)["id"].get<std::int64_t>());
  EXPECT_TRUE(std::regex_match(second_owner, instance_name)) << second_owner;
  EXPECT_NE(second_owner, owner);
  // The stopped instance's sessions are gone; its finished row keeps its owner.
  EXPECT_TRUE(
      poll_until([&] { return sessions_named(stack.dsn(), owner) == 0; }, milliseconds(10000)));
  EXPECT_EQ(owner_of(stack.dsn(), first_id), owner);
}

TEST(task_owner, a_starting_gateway_fails_only_rows_of_gateways_that_are_gone) {
  // Fault injection: gateway A's ML service reads the request and never answers, so A's task
  // stays 'processing' for as long as A lives (its deadline is far away).
  canned_server stuck{std::nullopt};
  service_stack a{
      with_args({"--ml-url=" + stuck.url(), "--request-timeout-ms=30000", "--ml-timeout-ms=60000"},
                /*ml_mock=*/false)};
  auto request = std::async(std::launch::async, [&]() -> std::string {
    try {
      auto response = upload(a, "/process-image?pipeline_id=1", make_jpeg(64, 48, 7), "held.jpg");
      return "answered " + std::to_string(response.status) + ": " + response.body;
    } catch (const std::exception&) {
      return ""; // a transport error: expected once A is killed
    }
  });

  ASSERT_TRUE(stuck.wait_for_requests(1, milliseconds(10000)));
  std::optional<task_row> row;
  ASSERT_TRUE(poll_until(
      [&] {
        row = last_task(a.dsn());
        return row && row->status == "processing";
      },
      milliseconds(10000)));
  const auto id = row->id;
  const auto owner_a = owner_of(a.dsn(), id);
  ASSERT_TRUE(std::regex_match(owner_a, instance_name)) << owner_a;

  // Gateway B starts on the same database while A runs: A's row is not abandoned.
  auto b = start_serve(a, stuck.url(), "imgproc-b");
  row = read_task(a.dsn(), id);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->status, "processing");
  EXPECT_FALSE(row->error) << *row->error;
  EXPECT_FALSE(row->finished);

  // A dies without closing anything. Once the server has noticed (A's sessions are gone), the
  // next gateway to start fails the row.
  a.imgproc().kill();
  EXPECT_EQ(request.get(), "") << "the client of a killed gateway should see the connection drop";
  ASSERT_TRUE(
      poll_until([&] { return sessions_named(a.dsn(), owner_a) == 0; }, milliseconds(10000)))
      << "the server still lists sessions of the killed gateway";
  EXPECT_EQ(read_task(a.dsn(), id)->status, "processing"); // nobody has swept yet

  auto c = start_serve(a, stuck.url(), "imgproc-c");
  row = read_task(a.dsn(), id);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->status, "failed");
  ASSERT_TRUE(row->error);
  EXPECT_EQ(*row->error, "interrupted: the service stopped before the task finished");
  EXPECT_TRUE(row->finished);
  EXPECT_EQ(owner_of(a.dsn(), id), owner_a);
  EXPECT_EQ(query_number(a.dsn(), "SELECT count(*) FROM tasks WHERE status = 'processing'"), 0);

  EXPECT_EQ(c->stop(SIGTERM), 0);
  EXPECT_EQ(b->stop(SIGTERM), 0);
}

} // namespace
} // namespace imgproc::testing::e2e
