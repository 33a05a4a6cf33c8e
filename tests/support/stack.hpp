#pragma once

// The whole service for one end-to-end test: ml_mock and imgproc as real processes on free
// ports, against a scratch database of their own.
//
//   test ──HTTP──> imgproc ──HTTP──> ml_mock (or a fake from fake_ml.hpp)
//                     │
//                     └──SQL──> scratch database (tests read it directly too)
//
// Both processes print one "... listening on http://HOST:PORT" line when ready; the stack waits
// for those lines, so no test ever sleeps for start-up.

#include "tests/support/postgres.hpp"
#include "tests/support/process.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace imgproc::testing {

struct stack_options {
  std::uint64_t ml_seed = 42;
  double detect_probability = 0.5;
  /// Added to imgproc's command line as "--name=value"; an option named here replaces the
  /// stack's own default for it (e.g. "--ml-url=..." to point at a fake ML service).
  std::vector<std::string> imgproc_args;
  /// Start ml_mock at all (not needed when --ml-url points elsewhere).
  bool start_ml_mock = true;
  /// The PostgreSQL server the scratch database is made on, as a DSN with rights to create
  /// databases (e.g. private_postgres::admin_dsn()); empty: the shared test server (admin_dsn()).
  std::string admin_dsn;
};

class service_stack {
public:
  /// Starts everything and waits until both services are ready. Throws (failing the test, with
  /// the end of the service's stderr in the message) if either does not come up.
  explicit service_stack(stack_options options = {});
  /// Stops imgproc, then ml_mock, then drops the database.
  ~service_stack();
  service_stack(const service_stack&) = delete;
  service_stack& operator=(const service_stack&) = delete;

  /// "http://127.0.0.1:PORT" of imgproc.
  const std::string& base_url() const { return base_url_; }
  /// base_url() + path.
  std::string url(const std::string& path) const { return base_url_ + path; }
  std::uint16_t port() const { return port_; }
  /// ml_mock's detection endpoint (empty when it was not started).
  const std::string& ml_url() const { return ml_url_; }
  /// The scratch database imgproc works in.
  const std::string& dsn() const { return db_.dsn(); }

  child_process& imgproc() { return *imgproc_; }
  child_process* ml_mock() { return ml_mock_.get(); }

  /// Stops imgproc (SIGTERM) and starts it again with the original arguments plus `extra_args`
  /// (which replace options of the same name). Returns the old process's exit code. The new
  /// process usually listens on a different port; base_url() follows it.
  int restart_imgproc(const std::vector<std::string>& extra_args = {});

private:
  void start_imgproc(const std::vector<std::string>& extra_args);

  stack_options options_;
  scratch_database db_;
  std::unique_ptr<child_process> ml_mock_;
  std::unique_ptr<child_process> imgproc_;
  std::string ml_url_;
  std::string base_url_;
  std::uint16_t port_ = 0;
};

/// "--name" of a "--name=value" argument.
std::string option_name(const std::string& arg);

} // namespace imgproc::testing
