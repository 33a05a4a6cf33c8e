#pragma once

// Shared checks for the end-to-end tests: the shapes of the service's JSON answers and direct
// reads of the `tasks` table.

#include "tests/support/http_client.hpp"
#include "tests/support/images.hpp"
#include "tests/support/stack.hpp"

#include <csignal>
#include <cstdlib>
#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace imgproc::testing::e2e {

using json = nlohmann::json;

/// Stack options with a given ML seed and detection probability.
inline stack_options with_mock(std::uint64_t seed, double detect_probability = 0.5) {
  stack_options out;
  out.ml_seed = seed;
  out.detect_probability = detect_probability;
  return out;
}

/// Stack options with extra imgproc arguments; `ml_mock` false when they point --ml-url at a
/// fake.
inline stack_options with_args(std::vector<std::string> imgproc_args, bool ml_mock = true) {
  stack_options out;
  out.imgproc_args = std::move(imgproc_args);
  out.start_ml_mock = ml_mock;
  return out;
}

inline json parse_body(const http_response& response) {
  auto body = json::parse(response.body, nullptr, false);
  EXPECT_FALSE(body.is_discarded()) << "not JSON: " << response.body;
  return body.is_discarded() ? json{} : body;
}

inline std::set<std::string> keys_of(const json& object) {
  std::set<std::string> out;
  if (object.is_object())
    for (const auto& item : object.items())
      out.insert(item.key());
  return out;
}

/// Checks the error contract, `status` with a JSON body {"detail": "<non-empty text>"}, and
/// returns the detail. Call inside SCOPED_TRACE to name the case.
inline std::string expect_error(const http_response& response, long status) {
  EXPECT_EQ(response.status, status) << response.body;
  EXPECT_EQ(response.header("content-type").rfind("application/json", 0), 0u)
      << "content-type: " << response.header("content-type");
  auto body = parse_body(response);
  EXPECT_EQ(keys_of(body), std::set<std::string>{"detail"}) << response.body;
  if (!body.is_object() || !body.contains("detail") || !body["detail"].is_string()) {
    ADD_FAILURE() << "no string detail in " << response.body;
    return "";
  }
  auto detail = body["detail"].get<std::string>();
  EXPECT_FALSE(detail.empty());
  return detail;
}

/// Checks a task's status/data pair: detected with one box, or undetected with [].
inline void expect_detection_shape(const std::string& status, const json& data) {
  if (status == "undetected") {
    EXPECT_EQ(data, json::array()) << data;
    return;
  }
  ASSERT_EQ(status, "detected");
  ASSERT_TRUE(data.is_object()) << data;
  EXPECT_EQ(keys_of(data), (std::set<std::string>{"top_left_x", "top_left_y", "width", "height",
                                                  "confidence", "class_id"}))
      << data;
  for (const char* key : {"top_left_x", "top_left_y", "width", "height", "class_id"})
    EXPECT_TRUE(data[key].is_number_integer()) << key << " in " << data;
  EXPECT_GT(data["width"].get<int>(), 0);
  EXPECT_GT(data["height"].get<int>(), 0);
  ASSERT_TRUE(data["confidence"].is_number()) << data;
  EXPECT_GT(data["confidence"].get<double>(), 0.0);
  EXPECT_LE(data["confidence"].get<double>(), 1.0);
  EXPECT_EQ(data["class_id"], 1);
}

/// POSTs one image as the `image_file` part, plus any `extra` parts.
inline http_response upload(const service_stack& stack, const std::string& path_and_query,
                            const std::string& image, const std::string& filename = "a.jpg",
                            std::vector<form_part> extra = {}) {
  extra.insert(extra.begin(), file_field("image_file", image, filename));
  return post_multipart(stack.url(path_and_query), extra);
}

struct task_row {
  std::int64_t id = 0;
  int pipeline_id = 0;
  std::string status;
  std::string filename;
  json data; ///< null when the column is NULL
  std::optional<std::string> error;
  bool finished = false;
};

inline std::optional<task_row> read_task(const std::string& dsn, std::int64_t id) {
  pqxx::connection conn{dsn};
  pqxx::read_transaction txn{conn};
  auto rows = txn.exec_params("SELECT id, pipeline_id, status, filename, data::text, error, "
                              "finished_at IS NOT NULL FROM tasks WHERE id = $1",
                              id);
  if (rows.empty())
    return std::nullopt;
  const auto& r = rows[0];
  task_row out;
  out.id = r[0].as<std::int64_t>();
  out.pipeline_id = r[1].as<int>();
  out.status = r[2].as<std::string>();
  out.filename = r[3].as<std::string>();
  out.data = r[4].is_null() ? json{} : json::parse(r[4].as<std::string>());
  if (!r[5].is_null())
    out.error = r[5].as<std::string>();
  out.finished = r[6].as<bool>();
  return out;
}

/// The most recent task row; the scratch database holds only this test's rows.
inline std::optional<task_row> last_task(const std::string& dsn) {
  pqxx::connection conn{dsn};
  pqxx::read_transaction txn{conn};
  auto rows = txn.exec("SELECT max(id) FROM tasks");
  if (rows[0][0].is_null())
    return std::nullopt;
  return read_task(dsn, rows[0][0].as<std::int64_t>());
}

/// The single number a query returns (e.g. a count).
inline long long query_number(const std::string& dsn, const std::string& sql) {
  pqxx::connection conn{dsn};
  pqxx::read_transaction txn{conn};
  return txn.exec1(sql)[0].as<long long>();
}

/// Runs SQL statements in one committed transaction; returns the first column of the first row
/// of the last statement's result as text ("" if none).
inline std::string execute(const std::string& dsn, const std::string& sql) {
  pqxx::connection conn{dsn};
  pqxx::work txn{conn};
  auto rows = txn.exec(sql);
  txn.commit();
  return rows.empty() || rows[0][0].is_null() ? "" : rows[0][0].as<std::string>();
}

inline void expect_healthy(const service_stack& stack) {
  auto health = get(stack.url("/health"));
  EXPECT_EQ(health.status, 200) << health.body;
}

/// `name` found on PATH, or "" if it is not there.
inline std::string find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  for (;;) {
    auto end = dirs.find(':', start);
    auto dir = dirs.substr(start, end == std::string::npos ? std::string::npos : end - start);
    auto candidate = (dir.empty() ? std::string{"."} : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    if (end == std::string::npos)
      return "";
    start = end + 1;
  }
}

/// What the headless-browser checks (tests/browser/*.mjs) need: node on PATH, playwright-core
/// installed by scripts/setup, and Chromium (IMGPROC_CHROMIUM, default /usr/bin/chromium).
/// Returns what is missing, or "" with `node` set to node's path.
inline std::string missing_browser_tools(std::string& node) {
  node = find_program("node");
  if (node.empty())
    return "node (Node.js 20 or later) is not on PATH: run scripts/setup";
  const std::string modules = std::string{IMGPROC_SOURCE_DIR} + "/tests/browser/node_modules";
  if (::access((modules + "/playwright-core/package.json").c_str(), R_OK) != 0)
    return "playwright-core is not installed: run scripts/setup (npm ci --prefix tests/browser)";
  const char* browser_env = std::getenv("IMGPROC_CHROMIUM");
  std::string browser = browser_env && *browser_env ? browser_env : "/usr/bin/chromium";
  if (::access(browser.c_str(), X_OK) != 0)
    return browser + " is missing: run scripts/setup (Debian package chromium)";
  return "";
}

/// A browser check's outcome: the one JSON summary line it prints on stdout (progress and
/// failures go to its stderr log, printed if the test fails) and its exit code.
struct browser_check_result {
  std::string summary_line;
  int exit_code = -1;
};

/// Runs `node argv...` (a tests/browser/*.mjs check) with `env`, waits up to `timeout` for its
/// summary line, then for it to exit: it prints the summary last and closes the browser first.
inline browser_check_result run_browser_check(const std::string& node,
                                              std::vector<std::string> argv,
                                              std::map<std::string, std::string> env,
                                              const std::string& name,
                                              std::chrono::milliseconds timeout) {
  argv.insert(argv.begin(), node);
  child_process check(std::move(argv), std::move(env), name);
  browser_check_result result;
  result.summary_line = check.wait_for_line(std::regex{R"(^\{.*\}$)"}, timeout);
  auto exited = check.wait_for_exit(std::chrono::seconds(15));
  result.exit_code = exited ? *exited : check.stop(SIGTERM, std::chrono::milliseconds(5000));
  return result;
}

} // namespace imgproc::testing::e2e
