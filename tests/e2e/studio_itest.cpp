// End-to-end: the pipeline studio (GET /studio) in headless Chromium against the real service:
// opens the car pipeline, uploads a photo, changes the resize step and sees its preview change,
// sees a 422 on the step it names, adds a step, saves a new version, and the version is then in
// GET /pipelines/1 (tests/browser/studio_check.mjs). Screenshots stay in build/test-artifacts.

#include "tests/e2e/helpers.hpp"
#include "tests/support/fault_report.hpp"

namespace imgproc::testing::e2e {
namespace {

using namespace std::chrono_literals;

TEST(studio, is_served_by_the_gateway_with_its_files) {
  service_stack stack;
  auto page = get(stack.url("/studio"));
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_EQ(page.header("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("/dashboard/studio.js"), std::string::npos);
  for (const char* file : {"studio.js", "studio.css"}) {
    auto response = get(stack.url(std::string{"/dashboard/"} + file));
    EXPECT_EQ(response.status, 200) << file;
  }
}

TEST(studio, builds_tunes_and_saves_a_pipeline_in_a_browser) {
  const std::string source = IMGPROC_SOURCE_DIR;
  std::string node;
  auto missing = missing_browser_tools(node);
  ASSERT_TRUE(missing.empty()) << missing;
  const std::string artifacts = test_artifacts_dir();
  for (const char* shot : {"/studio.png", "/studio-error.png"})
    ::unlink((artifacts + shot).c_str()); // never pass on an old run's picture

  service_stack stack;
  auto [line, exit_code] = run_browser_check(node,
                                             {source + "/tests/browser/studio_check.mjs",
                                              stack.base_url(), sample_photo_path(), artifacts},
                                             {}, "studio_check", 100s);
  EXPECT_EQ(exit_code, 0) << line;
  auto summary = json::parse(line, nullptr, false);
  ASSERT_FALSE(summary.is_discarded()) << line;
  ASSERT_EQ(summary["ok"], true) << summary.value("error", std::string{}) << "\n" << line;
  EXPECT_EQ(summary["resize_preview_after"]["width"], 160) << line;
  EXPECT_EQ(summary["resize_preview_after"]["height"], 120) << line;
  EXPECT_EQ(summary["cards_after"][2], "gaussian_blur") << line;
  // An edit while a dry run was in flight cancelled it, and the page stayed within the window
  // with a 200-character title.
  EXPECT_GE(summary.value("aborted_dry_runs", 0), 1) << line;
  EXPECT_LE(summary.value("page_width", 1 << 20), summary.value("window_width", 0)) << line;

  // The saved version, read back through the API.
  ASSERT_EQ(summary["saved_id"], 1) << line;
  ASSERT_EQ(summary["saved_version"], 2) << line;
  auto pipeline = parse_body(get(stack.url("/pipelines/1")));
  EXPECT_EQ(pipeline["version"], 2) << pipeline;
  ASSERT_EQ(pipeline["steps"].size(), 7u) << pipeline;
  EXPECT_EQ(pipeline["steps"][1]["handler"], "resize");
  EXPECT_EQ(pipeline["steps"][1]["params"]["width"], 160);
  EXPECT_EQ(pipeline["steps"][1]["params"]["height"], 120);
  EXPECT_EQ(pipeline["steps"][2]["handler"], "gaussian_blur");
  EXPECT_EQ(pipeline["steps"][6]["handler"], "detect");
  auto first = parse_body(get(stack.url("/pipelines/1/versions/1")));
  EXPECT_EQ(first["steps"].size(), 6u) << "version 1 is kept as it was";
  EXPECT_EQ(::access((artifacts + "/studio.png").c_str(), R_OK), 0) << "no screenshot";
  EXPECT_EQ(::access((artifacts + "/studio-error.png").c_str(), R_OK), 0) << "no screenshot";
}

} // namespace
} // namespace imgproc::testing::e2e
