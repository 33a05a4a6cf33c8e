// End-to-end: the dashboard (GET /dashboard) in a real headless browser, against the real
// service under load.
//
//   test ──uploads (background thread)──> imgproc serve ──> ml_mock
//   node tests/browser/dashboard_check.mjs ──Chromium──> /dashboard ──polls──> /cluster,
//                                                                              /metrics, /tasks
//
// The browser check (playwright-core driving Debian's chromium; `scripts/setup` installs both)
// waits until the page has polled twice, records the figures it shows, waits for later polls
// and checks that they moved, then takes a full-page screenshot: kept as
// <build>/test-artifacts/dashboard.png.

#include "tests/e2e/helpers.hpp"
#include "tests/support/fault_report.hpp"

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <thread>
#include <unistd.h>

#ifndef IMGPROC_SOURCE_DIR
#error "IMGPROC_SOURCE_DIR must name the repository (tests/CMakeLists.txt defines it)"
#endif

namespace imgproc::testing::e2e {
namespace {

using namespace std::chrono_literals;
using std::chrono::steady_clock;

std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  return std::string{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

/// Uploads to pipeline 1 until stopped (or for at most `limit`), from its own thread: the load
/// that makes the dashboard's figures move. Joins on destruction, so an early test exit cannot
/// leave it running.
class background_load {
public:
  background_load(const service_stack& stack, std::chrono::seconds limit)
      : thread_([this, &stack, limit] {
          auto image = make_jpeg(320, 240, 7);
          auto deadline = steady_clock::now() + limit;
          while (!stop_ && steady_clock::now() < deadline) {
            try {
              auto response =
                  upload(stack, "/process-image?pipeline_id=1", image, "dashboard.jpg", {});
              ++sent_;
              if (response.status == 200)
                ++answered_ok_;
            } catch (const std::exception&) {
              ++sent_; // a transport error: counted as sent, not answered
            }
            std::this_thread::sleep_for(20ms);
          }
        }) {}
  ~background_load() { stop(); }
  background_load(const background_load&) = delete;
  background_load& operator=(const background_load&) = delete;

  void stop() {
    stop_ = true;
    if (thread_.joinable())
      thread_.join();
  }
  int sent() const { return sent_; }
  int answered_ok() const { return answered_ok_; }

private:
  std::atomic<bool> stop_{false};
  std::atomic<int> sent_{0};
  std::atomic<int> answered_ok_{0};
  std::thread thread_;
};

TEST(dashboard, is_served_by_the_gateway) {
  service_stack stack;
  auto page = get(stack.url("/dashboard"));
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_EQ(page.header("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("/dashboard/app.js"), std::string::npos);
  for (const auto& [file, type] :
       {std::pair<std::string, std::string>{"index.html", "text/html; charset=utf-8"},
        {"app.js", "text/javascript"},
        {"style.css", "text/css"},
        {"favicon.svg", "image/svg+xml"}}) {
    SCOPED_TRACE(file);
    auto response = get(stack.url("/dashboard/" + file));
    EXPECT_EQ(response.status, 200) << response.body;
    EXPECT_EQ(response.header("content-type"), type);
    EXPECT_FALSE(response.body.empty());
  }
  {
    SCOPED_TRACE("an unknown file is a JSON 404");
    expect_error(get(stack.url("/dashboard/nope.js")), 404);
    expect_error(get(stack.url("/dashboard/..%2Fapp.js")), 404);
  }
}

TEST(dashboard, shows_live_node_and_actor_figures_in_a_browser) {
  const std::string source = IMGPROC_SOURCE_DIR;
  const std::string script = source + "/tests/browser/dashboard_check.mjs";
  std::string node;
  auto missing = missing_browser_tools(node);
  ASSERT_TRUE(missing.empty()) << missing;
  const char* allow_env = std::getenv("IMGPROC_DASHBOARD_ALLOW_NO_METRICS");
  const bool need_metrics = !(allow_env && std::string{allow_env} == "1");

  const std::string artifacts = test_artifacts_dir();
  const std::string screenshot = artifacts + "/dashboard.png";
  ::unlink(screenshot.c_str()); // never pass on an old run's picture

  service_stack stack;
  auto cluster = parse_body(get(stack.url("/cluster")));
  ASSERT_EQ(cluster["nodes"].size(), 1u) << cluster;
  const std::string node_name = cluster["nodes"][0]["name"];

  background_load load{stack, 100s};
  auto [line, exit_code] =
      run_browser_check(node, {script, stack.base_url(), screenshot},
                        {{"IMGPROC_DASHBOARD_TIMEOUT_MS", "20000"}}, "dashboard_check", 95s);
  load.stop();

  EXPECT_EQ(exit_code, 0) << line;
  auto summary = json::parse(line, nullptr, false);
  ASSERT_FALSE(summary.is_discarded()) << line;
  EXPECT_EQ(summary["ok"], true) << summary.value("error", std::string{});
  EXPECT_GT(load.answered_ok(), 0) << load.sent() << " requests sent, none answered 200";

  // The nodes table listed this process's node, and its completed count moved between polls.
  const auto& nodes = summary["nodes"];
  EXPECT_GE(nodes.value("count", 0), 1) << nodes;
  EXPECT_EQ(nodes["changed"], true) << nodes;
  EXPECT_GT(nodes.value("completed_after", 0.0), nodes.value("completed_before", 0.0)) << nodes;
  bool listed = false;
  for (const auto& row : nodes["rows"])
    listed = listed || row.value("name", "") == node_name;
  EXPECT_TRUE(listed) << node_name << " not in " << nodes;
  EXPECT_GE(summary.value("polls", json::object()).value("last", 0), 3) << summary["polls"];
  EXPECT_GE(summary.value("tasks", 0), 1);

  // The actor panel: every stage of pipeline 1 ran on this node, and the figures moved.
  if (need_metrics) {
    EXPECT_EQ(summary["metrics"], "ok");
    const auto& actors = summary["actors"];
    EXPECT_EQ(actors["changed"], true) << actors;
    EXPECT_GT(actors.value("processed_after", 0.0), actors.value("processed_before", 0.0));
    EXPECT_GT(actors.value("max_throughput", 0.0), 0.0) << actors;
    for (const char* kind : {"pipeline", "dispatcher", "job_runner", "image_worker",
                             "detector_client", "persistence"}) {
      SCOPED_TRACE(kind);
      bool found = false;
      for (const auto& row : actors["rows"])
        if (row.value("node", "") == node_name && row.value("actor", "") == kind) {
          found = true;
          EXPECT_GT(row["processed"].is_number() ? row["processed"].get<double>() : 0.0, 0.0)
              << row;
        }
      EXPECT_TRUE(found) << "no row for " << kind << " on " << node_name;
    }
  } else {
    std::fprintf(stderr,
                 "dashboard: IMGPROC_DASHBOARD_ALLOW_NO_METRICS=1: actor figures not "
                 "required (metrics: %s)\n",
                 summary.value("metrics", std::string{"?"}).c_str());
  }

  // The screenshot: a PNG of the whole page, kept for people to look at.
  auto png = read_file(screenshot);
  ASSERT_GT(png.size(), 10000u) << screenshot;
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  std::fprintf(stderr, "dashboard: screenshot kept in %s\n", screenshot.c_str());
  RecordProperty("screenshot", screenshot);
}

} // namespace
} // namespace imgproc::testing::e2e
