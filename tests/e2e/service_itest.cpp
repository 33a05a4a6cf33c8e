// End-to-end: routing, pipeline edits while running, crash recovery and shutdown, against the
// real imgproc and ml_mock processes and a scratch database.

#include "tests/e2e/helpers.hpp"
#include "tests/support/fake_ml.hpp"
#include "tests/support/postgres.hpp"

#include <fstream>
#include <pqxx/pqxx>
#include <regex>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace imgproc::testing::e2e {
namespace {

using std::chrono::steady_clock;

TEST(routes, unknown_tasks_routes_and_methods_answer_json_errors) {
  service_stack stack;
  {
    SCOPED_TRACE("GET /tasks/999999");
    expect_error(get(stack.url("/tasks/999999")), 404);
  }
  {
    SCOPED_TRACE("an unknown subpath of a known route is 404, not 405");
    expect_error(get(stack.url("/pipelines/1/versions")), 404);
    expect_error(get(stack.url("/pipelines/1/versions/abc")), 400);
  }
  for (const char* id : {"abc", "0", "-3", "1.5"}) {
    SCOPED_TRACE(std::string{"GET /tasks/"} + id);
    auto response = get(stack.url(std::string{"/tasks/"} + id));
    EXPECT_TRUE(response.status == 400 || response.status == 404) << response.status;
    expect_error(response, response.status);
  }
  {
    SCOPED_TRACE("unknown route");
    expect_error(get(stack.url("/no/such/route")), 404);
    expect_error(post_raw(stack.url("/no/such/route"), "x", "text/plain"), 404);
  }
  {
    SCOPED_TRACE("GET /process-image");
    expect_error(get(stack.url("/process-image")), 405);
  }
  {
    SCOPED_TRACE("POST /health");
    expect_error(post_raw(stack.url("/health"), "x", "text/plain"), 405);
  }
  expect_healthy(stack);
}

TEST(routes, malformed_http_does_not_break_the_service) {
  service_stack stack;
  for (const std::string& request :
       {std::string{"GARBAGE\r\n\r\n"}, std::string{"GET / HTTP/9.9\r\n\r\n"},
        std::string{"POST /process-image?pipeline_id=1 HTTP/1.1\r\nHost: x\r\n"
                    "Content-Length: nope\r\n\r\n"},
        std::string{"POST /process-image?pipeline_id=1 HTTP/1.1\r\nHost: x\r\n"
                    "Content-Length: 10\r\nContent-Type: multipart/form-data; boundary=b\r\n\r\n"
                    "--b\r\n"}}) { // the body is cut short: the server waits, the client gives up
    SCOPED_TRACE(request);
    auto answer = send_raw("127.0.0.1", stack.port(), request, std::chrono::milliseconds(3000));
    // Dropping the connection is an acceptable answer to bytes that are not HTTP; an answer, if
    // any, must be an HTTP error, never a success.
    if (!answer.empty()) {
      EXPECT_EQ(answer.rfind("HTTP/1.", 0), 0u) << answer;
      EXPECT_EQ(answer.find(" 200 "), std::string::npos) << answer;
    }
    expect_healthy(stack);
  }
  EXPECT_TRUE(stack.imgproc().running());
}

/// Sends requests until one answers `status` or `limit` passes; the answers are the only signal
/// that the service picked up a database edit. Returns the last response.
http_response request_until(const service_stack& stack, long status,
                            std::chrono::milliseconds limit) {
  auto deadline = steady_clock::now() + limit;
  auto image = make_jpeg(64, 64, 8);
  for (;;) {
    auto response = upload(stack, "/process-image?pipeline_id=1", image);
    if (response.status == status || steady_clock::now() >= deadline)
      return response;
    // Each round trip is a few milliseconds; a short pause keeps the loop from hammering the
    // service for the whole cache period.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

TEST(pipelines, database_edits_apply_without_restart) {
  service_stack stack;
  auto first = upload(stack, "/process-image?pipeline_id=1", make_jpeg(64, 64, 8));
  ASSERT_EQ(first.status, 200) << first.body; // pipeline 1 is now loaded and cached

  const std::string resize_step = " WHERE pipeline_id = 1 AND step_kind_id = (SELECT id FROM "
                                  "step_kinds WHERE handler = 'resize')";
  auto original = execute(stack.dsn(), "SELECT params::text FROM pipeline_steps" + resize_step);
  ASSERT_FALSE(original.empty());
  execute(stack.dsn(),
          "UPDATE pipeline_steps SET params = params || '{\"width\": 0}'" + resize_step);

  // The cache keeps a pipeline for --pipeline-cache-ms (1 s by default): a generous bound.
  auto broken = request_until(stack, 422, std::chrono::seconds(5));
  auto detail = expect_error(broken, 422);
  EXPECT_NE(detail.find("resize"), std::string::npos) << detail;
  EXPECT_NE(detail.find("width"), std::string::npos) << detail;

  pqxx::connection conn{stack.dsn()};
  execute(stack.dsn(), "UPDATE pipeline_steps SET params = " + conn.quote(original) + resize_step);
  auto restored = request_until(stack, 200, std::chrono::seconds(5));
  EXPECT_EQ(restored.status, 200) << restored.body;
  expect_healthy(stack);
}

TEST(pipelines, unknown_handler_answers_422) {
  service_stack stack;
  auto id = execute(stack.dsn(), R"(
      INSERT INTO step_kinds (title, handler) VALUES ('Bogus', 'bogus');
      INSERT INTO pipelines (title) VALUES ('bogus-pipeline');
      INSERT INTO pipeline_steps (pipeline_id, position, step_kind_id, params)
      SELECT p.id, 1, k.id, '{}' FROM pipelines p, step_kinds k
      WHERE p.title = 'bogus-pipeline' AND k.handler = 'bogus';
      SELECT id FROM pipelines WHERE title = 'bogus-pipeline';)");
  ASSERT_FALSE(id.empty());
  ASSERT_NE(id, "1");
  auto detail =
      expect_error(upload(stack, "/process-image?pipeline_id=" + id, make_jpeg(64, 64, 2)), 422);
  EXPECT_NE(detail.find("unknown handler"), std::string::npos) << detail;
  EXPECT_NE(detail.find("bogus"), std::string::npos) << detail;
  // Pipeline 1 is untouched.
  auto ok = upload(stack, "/process-image?pipeline_id=1", make_jpeg(64, 64, 2));
  EXPECT_EQ(ok.status, 200) << ok.body;
}

TEST(lifecycle, interrupted_task_is_failed_on_restart) {
  service_stack stack;
  // As if an earlier run had died mid-request: a row still 'processing'.
  auto id = std::stoll(execute(stack.dsn(), "INSERT INTO tasks (pipeline_id, status, filename) "
                                            "VALUES (1, 'processing', 'lost.jpg') RETURNING id"));
  EXPECT_EQ(stack.restart_imgproc(), 0);

  // Start-up sweeps abandoned rows before printing the readiness line.
  auto row = read_task(stack.dsn(), id);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->status, "failed");
  ASSERT_TRUE(row->error);
  EXPECT_NE(row->error->find("interrupted"), std::string::npos) << *row->error;
  EXPECT_TRUE(row->finished);

  auto task = get(stack.url("/tasks/" + std::to_string(id)));
  ASSERT_EQ(task.status, 200) << task.body;
  EXPECT_EQ(parse_body(task)["status"], "failed");
  // The restarted service works.
  auto ok = upload(stack, "/process-image?pipeline_id=1", make_jpeg(64, 64, 3));
  EXPECT_EQ(ok.status, 200) << ok.body;
}

TEST(lifecycle, sigterm_with_a_request_in_flight_exits_cleanly) {
  canned_server stuck{std::nullopt}; // reads the request, never answers
  // One ML attempt: retries would stretch the drain to three ML timeouts, not what this tests.
  service_stack stack{with_args({"--ml-url=" + stuck.url(), "--ml-retries=0"}, /*ml_mock=*/false)};
  std::optional<http_response> answer;
  std::string transport_error;
  std::thread client([&] {
    try {
      answer = upload(stack, "/process-image?pipeline_id=1", make_jpeg(64, 64, 1), "a.jpg", {});
    } catch (const std::exception& e) {
      transport_error = e.what();
    }
  });
  // The request is in the detect step once the ML service has it.
  ASSERT_TRUE(stuck.wait_for_requests(1, std::chrono::seconds(10)));
  int code = -1;
  EXPECT_NO_THROW(code = stack.imgproc().stop(SIGTERM, std::chrono::seconds(20)));
  EXPECT_EQ(code, 0);
  client.join();
  // Either an error answer or a closed connection; never a success, never a hang.
  if (answer)
    EXPECT_GE(answer->status, 500) << answer->body;
  else
    EXPECT_NE(transport_error, "");
}

TEST(lifecycle, sigterm_and_sigint_exit_cleanly) {
  service_stack stack;
  auto ok = upload(stack, "/process-image?pipeline_id=1", make_jpeg(64, 64, 5));
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(stack.imgproc().stop(SIGTERM), 0);
  EXPECT_FALSE(stack.imgproc().running());

  stack.restart_imgproc();
  expect_healthy(stack);
  EXPECT_EQ(stack.imgproc().stop(SIGINT), 0);

  ASSERT_NE(stack.ml_mock(), nullptr);
  EXPECT_EQ(stack.ml_mock()->stop(SIGTERM), 0);
}

TEST(lifecycle, both_scheduler_policies_serve_and_an_unknown_one_is_refused_at_start) {
  service_stack stack{with_args({"--scheduler-policy=stealing"})};
  auto stealing = upload(stack, "/process-image?pipeline_id=1", make_jpeg(64, 64, 5));
  EXPECT_EQ(stealing.status, 200) << stealing.body;

  stack.restart_imgproc({"--scheduler-policy=sharing"});
  auto sharing = upload(stack, "/process-image?pipeline_id=1", make_jpeg(64, 64, 6));
  EXPECT_EQ(sharing.status, 200) << sharing.body;

  child_process refused{{binary_dir() + "/imgproc", "serve", "--port=0", "--host=127.0.0.1",
                         "--db=" + stack.dsn(), "--scheduler-policy=fifo"},
                        {},
                        "imgproc-bad-policy"};
  EXPECT_EQ(refused.wait_for_exit(std::chrono::seconds(10)), 2);
  EXPECT_NE(refused.stderr_tail().find("--scheduler-policy takes sharing or stealing, got 'fifo'"),
            std::string::npos)
      << refused.stderr_tail();
}

TEST(routes, ready_follows_the_database) {
  service_stack stack;
  auto ready = get(stack.url("/ready"));
  ASSERT_EQ(ready.status, 200) << ready.body;

  // A database that refuses connections (a real fault, made with SQL): ready turns 503 while
  // health stays 200, and ready comes back by itself once the database does.
  std::string name;
  {
    pqxx::connection conn{stack.dsn()};
    pqxx::nontransaction txn{conn};
    name = txn.exec1("SELECT current_database()")[0].as<std::string>();
  }
  pqxx::connection admin{admin_dsn()};
  auto set_allowed = [&](bool allowed) {
    pqxx::nontransaction txn{admin};
    txn.exec("ALTER DATABASE " + txn.quote_name(name) + " ALLOW_CONNECTIONS " +
             (allowed ? "true" : "false"));
    if (!allowed)
      txn.exec_params("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                      name);
  };
  set_allowed(false);
  auto down = get(stack.url("/ready"));
  EXPECT_EQ(down.status, 503) << down.body;
  auto why = expect_error(down, 503);
  // The answer names the database's own error, not just "unavailable".
  EXPECT_NE(why.find("the database does not answer: "), std::string::npos) << why;
  EXPECT_NE(why.find("not currently accepting connections"), std::string::npos) << why;
  EXPECT_EQ(get(stack.url("/health")).status, 200);
  set_allowed(true);
  auto up = get(stack.url("/ready"));
  EXPECT_EQ(up.status, 200) << up.body;
}

/// `dsn` connecting as `user` instead (URI DSNs, as the test servers give them).
std::string with_user(const std::string& dsn, const std::string& user) {
  static const std::regex user_parameter{R"(([?&])user=[^&]*)"};
  if (std::regex_search(dsn, user_parameter))
    return std::regex_replace(dsn, user_parameter, "$1user=" + user);
  static const std::regex userinfo{R"(^(postgres(ql)?://)[^@/]*@)"};
  if (std::regex_search(dsn, userinfo))
    return std::regex_replace(dsn, userinfo, "$1" + user + "@");
  return dsn + (dsn.find('?') == std::string::npos ? "?" : "&") + "user=" + user;
}

std::size_t count_lines_with(const std::string& path, const std::string& needle) {
  std::ifstream in{path};
  std::size_t count = 0;
  for (std::string line; std::getline(in, line);)
    count += line.find(needle) != std::string::npos ? 1 : 0;
  return count;
}

TEST(routes, a_database_refusing_the_role_at_start_is_one_log_line_and_ready_503_until_fixed) {
  service_stack stack;
  // A real refusal: the server knows no such role (what a wrong user or password looks like to
  // the service). The process must start anyway, answer /health, explain itself on /ready.
  const std::string role = "imgproc_late_role_" + std::to_string(getpid());
  ASSERT_EQ(stack.restart_imgproc({"--db=" + with_user(stack.dsn(), role)}), 0);
  EXPECT_EQ(get(stack.url("/health")).status, 200);
  auto ready = get(stack.url("/ready"));
  auto detail = expect_error(ready, 503);
  EXPECT_NE(detail.find("role \"" + role + "\" does not exist"), std::string::npos) << detail;
  EXPECT_FALSE(ready.header("retry-after").empty());
  expect_error(upload(stack, "/process-image?pipeline_id=1", make_jpeg(64, 48, 1)), 503);

  // Every persistence actor and the async runner (5 polls a second) keep failing meanwhile:
  // the log must not grow with them. Time passing is the point here, so this waits.
  // One line says it all, and it stays one.
  const auto& log = stack.imgproc().stderr_path();
  EXPECT_EQ(count_lines_with(log, "noticed while starting up"), 1u);
  EXPECT_EQ(count_lines_with(log, "does not exist"), 1u) << stack.imgproc().stderr_tail(20);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(count_lines_with(log, "does not exist"), 1u) << "the same error was logged again:\n"
                                                         << stack.imgproc().stderr_tail(20);

  {
    pqxx::connection admin{admin_dsn()};
    pqxx::nontransaction{admin}.exec("CREATE ROLE " + admin.quote_name(role) + " LOGIN SUPERUSER");
  }
  // Recovery needs no restart: the start-up work is retried every 2 s, and /ready stays 503
  // until it has been done.
  auto deadline = steady_clock::now() + std::chrono::seconds(15);
  while (get(stack.url("/ready")).status != 200 && steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(get(stack.url("/ready")).status, 200) << stack.imgproc().stderr_tail(20);
  EXPECT_EQ(upload(stack, "/process-image?pipeline_id=1", make_jpeg(64, 48, 2)).status, 200);

  ASSERT_EQ(stack.restart_imgproc({"--db=" + stack.dsn()}), 0);
  pqxx::connection admin{admin_dsn()};
  pqxx::nontransaction{admin}.exec("DROP ROLE " + admin.quote_name(role));
}

TEST(routes, an_unreachable_database_at_start_is_one_log_line_and_ready_503) {
  service_stack stack;
  // A real fault: a TCP port nothing listens on. The start-up waits --db-wait-ms, then serves.
  const auto port = closed_port();
  const std::string dsn = "postgresql://imgproc@127.0.0.1:" + std::to_string(port) + "/imgproc";
  ASSERT_EQ(stack.restart_imgproc({"--db=" + dsn, "--db-wait-ms=300"}), 0);
  EXPECT_EQ(get(stack.url("/health")).status, 200);
  auto detail = expect_error(get(stack.url("/ready")), 503);
  EXPECT_NE(detail.find(std::to_string(port)), std::string::npos) << detail;
  expect_error(upload(stack, "/process-image?pipeline_id=1", make_jpeg(64, 48, 1)), 503);
  // The API's description and its pages need no database.
  EXPECT_EQ(get(stack.url("/openapi.json")).status, 200);
  EXPECT_EQ(get(stack.url("/docs")).status, 200);
  const auto& log = stack.imgproc().stderr_path();
  EXPECT_EQ(count_lines_with(log, "noticed while starting up"), 1u);
  EXPECT_EQ(count_lines_with(log, "Connection refused"), 1u) << stack.imgproc().stderr_tail(20);
}

TEST(routes, openapi_json_is_the_document_in_the_repository) {
  service_stack stack;
  auto response = get(stack.url("/openapi.json"));
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(response.header("content-type"), "application/json");
  std::ifstream file{std::string{IMGPROC_SOURCE_DIR} + "/http/openapi.json"};
  std::stringstream text;
  text << file.rdbuf();
  EXPECT_EQ(nlohmann::json::parse(response.body), nlohmann::json::parse(text.str()));
}

TEST(routes, a_stuck_database_is_a_quick_503_and_then_serving_resumes) {
  service_stack stack{with_args({"--db-statement-timeout-ms=300"})};
  const auto image = make_jpeg(64, 64, 3);
  ASSERT_EQ(upload(stack, "/process-image?pipeline_id=1", image).status, 200);

  // A real fault: another session holds the tasks table, so inserting a task row blocks.
  pqxx::connection holder_conn{stack.dsn()};
  auto holder = std::make_unique<pqxx::work>(holder_conn);
  holder->exec("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE");
  // The server cancels the insert after 300 ms, so the answer is the database's 503 rather than
  // the actor's own timeout, and no row commits later behind the client's back.
  auto detail = expect_error(upload(stack, "/process-image?pipeline_id=1", image), 503);
  EXPECT_NE(detail.find("database"), std::string::npos) << detail;
  holder->abort();

  EXPECT_EQ(upload(stack, "/process-image?pipeline_id=1", image).status, 200);
  EXPECT_EQ(query_number(stack.dsn(), "SELECT count(*) FROM tasks WHERE status = 'processing'"), 0);
}

TEST(routes, cluster_lists_the_all_in_one_process_as_a_node) {
  service_stack stack{with_args({"--capacity=3", "--node-name=solo"})};
  for (int i = 0; i < 2; ++i)
    ASSERT_EQ(upload(stack, "/process-image?pipeline_id=1", make_jpeg(64, 48, i)).status, 200);
  auto response = get(stack.url("/cluster"));
  ASSERT_EQ(response.status, 200) << response.body;
  auto body = parse_body(response);
  ASSERT_EQ(body["nodes"].size(), 1u) << body;
  const auto& node = body["nodes"][0];
  EXPECT_EQ(node["name"], "solo");
  EXPECT_EQ(node["local"], true);
  EXPECT_EQ(node["state"], "up");
  EXPECT_EQ(node["capacity"], 3);
  EXPECT_EQ(node["completed"], 2);
  EXPECT_EQ(node["in_flight"], 0);
  EXPECT_EQ(body["totals"]["nodes_up"], 1);
}

} // namespace
} // namespace imgproc::testing::e2e
