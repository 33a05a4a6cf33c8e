#pragma once

// Logs a database outage once instead of once per failed call.
//
// While PostgreSQL is away every persistence actor fails every call (the async runner alone polls
// five times a second), and a warning per call buries the one line an operator needs. An
// outage_log writes an error for the first failure of an outage (naming the call and the error),
// a warning only if the error changes, debug lines for the rest, and one line when a call
// succeeds again with how many failed and for how long. Everything in a process that talks to
// the database (start-up, persistence, the pipeline catalogue and admin, the change listener)
// shares one, so an outage is one line however many parts notice it.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>

namespace imgproc::db {

class outage_log {
public:
  explicit outage_log(std::string component) : component_(std::move(component)) {}

  /// A call (`what`, e.g. "creating a task") failed because the database is unavailable.
  /// Returns whether it was logged above debug level (the first of an outage, or a new error).
  bool failed(const std::string& what, const std::string& error);

  /// A call succeeded. Returns whether this ended an outage (and was logged). Cheap when there
  /// is no outage: one atomic load.
  bool succeeded();

  bool in_outage() const { return down_.load(std::memory_order_acquire); }

  /// The log shared by everything in this process that uses the database.
  static outage_log& process();

private:
  std::string component_;
  std::atomic<bool> down_{false};
  std::mutex mutex_; ///< guards the fields below and the transitions of down_
  std::size_t failures_ = 0;
  std::chrono::steady_clock::time_point since_;
  std::string last_error_;
};

} // namespace imgproc::db
