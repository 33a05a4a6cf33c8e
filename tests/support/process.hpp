#pragma once

// A child process for end-to-end tests: the real imgproc and ml_mock binaries.
//
// stdout is a pipe the test reads readiness lines from; stderr goes to a log file under /tmp so
// the test's own output stays readable. The log is deleted when the process object goes away,
// unless the running test has failed: then its last lines are printed and the file is kept.

#include <chrono>
#include <csignal>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <sys/types.h>
#include <vector>

namespace imgproc::testing {

class child_process {
public:
  /// Starts `argv` (argv[0] is a path) with the test's environment plus `env`. `name` labels the
  /// log file and messages. Throws std::runtime_error if the program cannot be started.
  child_process(std::vector<std::string> argv, std::map<std::string, std::string> env = {},
                std::string name = "");
  /// Kills the process (SIGKILL) if it still runs and reaps it.
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// Reads stdout until a whole line matches `pattern` (std::regex_search) and returns that line;
  /// earlier lines are skipped. Throws std::runtime_error, quoting the end of the stderr log, if
  /// the timeout passes or stdout closes first.
  std::string wait_for_line(const std::regex& pattern, std::chrono::milliseconds timeout);

  /// Sends `signal` and waits up to `timeout` for the exit; kills with SIGKILL after that (and
  /// throws). Returns the exit code, or 128 + the signal number if a signal ended it, like a
  /// shell. Returns the stored status if the process had already been reaped.
  int stop(int signal = SIGTERM,
           std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));

  /// Waits up to `timeout` for the process to exit by itself (no signal). Returns its exit code
  /// as stop() does, or nullopt if it is still running then.
  std::optional<int> wait_for_exit(std::chrono::milliseconds timeout);

  /// SIGKILL and reap.
  void kill();

  /// Whether the process has not exited yet (reaps it if it has).
  bool running();

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  const std::string& stderr_path() const { return log_path_; }

  /// The last `lines` lines the process wrote to stderr.
  std::string stderr_tail(std::size_t lines = 40) const;

private:
  /// Waits for the exit until `deadline`; returns false on timeout.
  bool wait_exit(std::chrono::steady_clock::time_point deadline);
  void reaped(int wait_status);

  std::string name_;
  std::string log_path_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  bool exited_ = false;
  int exit_code_ = -1;
  std::string pending_; ///< stdout read but not yet returned as a line
};

/// The directory of the service binaries: $IMGPROC_BIN_DIR (ctest sets it), else the test
/// binary's own directory if imgproc is there. Throws if neither.
std::string binary_dir();

} // namespace imgproc::testing
