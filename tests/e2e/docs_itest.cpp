// /docs: Swagger UI over /openapi.json, served by the service itself.
//
//   node tests/browser/docs_check.mjs ──Chromium──> /docs ──> /docs/swagger-ui-bundle.js, ...
//                                                      └──> /openapi.json, "Try it out" upload
//
// The browser check (playwright-core driving Debian's chromium; scripts/setup installs both, and
// swagger-ui-dist for the build) must list every operation of the document and get a 200 task
// from "Try it out" on POST /process-image with a real JPEG.

#include "tests/e2e/helpers.hpp"
#include "tests/support/fault_report.hpp"

#include <cstdlib>
#include <fstream>
#include <regex>
#include <thread>
#include <unistd.h>

namespace imgproc::testing::e2e {
namespace {

using namespace std::chrono_literals;

TEST(docs, serves_swagger_ui_and_its_files_from_the_binary) {
  service_stack stack;
  auto page = get(stack.url("/docs"));
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_EQ(page.header("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("docs/swagger-ui-bundle.js"), std::string::npos);
  EXPECT_NE(page.body.find("\"openapi.json\""), std::string::npos);
  for (const auto& [file, type] :
       {std::pair<std::string, std::string>{"swagger-ui-bundle.js", "text/javascript"},
        {"swagger-ui.css", "text/css"},
        {"favicon-32x32.png", "image/png"}}) {
    SCOPED_TRACE(file);
    auto response = get(stack.url("/docs/" + file));
    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.header("content-type"), type);
    EXPECT_GT(response.body.size(), 100u);
  }
  expect_error(get(stack.url("/docs/nope.js")), 404);
  expect_error(get(stack.url("/docs/..%2Fopenapi.json")), 404);
}

TEST(docs, renders_every_operation_and_try_it_out_uploads_an_image) {
  const std::string source = IMGPROC_SOURCE_DIR;
  const std::string script = source + "/tests/browser/docs_check.mjs";
  std::string node;
  auto missing = missing_browser_tools(node);
  ASSERT_TRUE(missing.empty()) << missing;

  const std::string artifacts = test_artifacts_dir();
  const std::string screenshot = artifacts + "/docs.png";
  const std::string jpeg = artifacts + "/docs-upload.jpg";
  {
    auto bytes = make_jpeg(320, 240, 7);
    std::ofstream out{jpeg, std::ios::binary};
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  ::unlink(screenshot.c_str());

  service_stack stack;
  auto [line, exit_code] =
      run_browser_check(node, {script, stack.base_url(), jpeg, screenshot}, {}, "docs_check", 110s);
  EXPECT_EQ(exit_code, 0) << line;
  auto summary = json::parse(line, nullptr, false);
  ASSERT_FALSE(summary.is_discarded()) << line;
  EXPECT_EQ(summary["ok"], true) << summary.value("error", std::string{});
  EXPECT_GE(summary.value("operations", 0), 20) << summary;
  EXPECT_EQ(summary["listed"], summary["operations"]) << summary;
  EXPECT_EQ(summary.value("try_it_out_status", ""), "200") << summary;
  // The task "Try it out" created is stored like any other.
  auto task_id = summary["try_it_out_task"].value("id", 0);
  ASSERT_GT(task_id, 0) << summary;
  EXPECT_EQ(get(stack.url("/tasks/" + std::to_string(task_id))).status, 200);
}

} // namespace
} // namespace imgproc::testing::e2e
