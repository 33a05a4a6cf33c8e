#pragma once

// Counting for the fault suite (tests/e2e/faults/, docs/faults.md): what a
// scenario sent, how the service answered, what the tasks table holds afterwards, and what was
// lost or duplicated on the way.
//
// Use, per scenario:
//
//   request_log log;                                     // thread-safe; one entry per request
//   auto name = fault_filename("overload", n);           // "overload-<n>.jpg", unique
//   ... send the upload with that filename ...
//   log.add({name, response.status, response.body});     // status 0 = no HTTP answer
//   fault_tally tally{"overload"};
//   check_stored(tally, dsn, log.all());                 // sent, answered, stored, lost, dup.
//   report(tally);                                       // one stdout line + a markdown row
//   EXPECT_EQ(tally.lost, 0) << problems_text(tally);
//
// The tasks table is read by filename: a scenario gives every request its own name, so the rows
// of the scenario are exactly the rows whose filename starts with "<scenario>-".

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace imgproc::testing {

struct fault_tally {
  explicit fault_tally(std::string scenario_name = "") : scenario(std::move(scenario_name)) {}

  std::string scenario;
  int sent = 0;
  std::map<int, int> answered;       ///< HTTP status -> count; 0 = no HTTP answer
  std::map<std::string, int> stored; ///< task status -> rows
  int lost = 0;
  int duplicated = 0;
  std::string note;
  double seconds = 0; ///< the scenario's wall time, if the test sets it (shown in the table)
  /// One line per lost or duplicated request, saying why (printed by report(), for assertions).
  std::vector<std::string> problems;
};

/// What the client saw of one request.
struct sent_request {
  /// The filename the service is expected to store (its sanitized form: for an upload named
  /// "../x/overload-3.jpg" that is "overload-3.jpg"). Empty when the request cannot create a
  /// row (no file part): then it only counts in `sent` and `answered`.
  std::string filename;
  long status = 0;  ///< HTTP status; 0 = no HTTP answer (refused, reset, timed out)
  std::string body; ///< the answer's body: the task JSON of a 200 or 202
};

/// "<scenario>-<n>.jpg".
std::string fault_filename(const std::string& scenario, int n);

/// A list of sent requests that load threads may add to at once.
class request_log {
public:
  void add(sent_request request);
  std::vector<sent_request> all() const;
  std::size_t size() const;

private:
  mutable std::mutex mutex_;
  std::vector<sent_request> requests_;
};

/// Fills `sent` and `answered` from `requests`, then `stored`, `lost`, `duplicated` and
/// `problems` from the tasks table of `dsn`:
/// - first it waits, polling, up to `settle` for the scenario's rows to leave 'processing' (and
///   'queued', the state of an asynchronous task not yet claimed);
/// - stored: the scenario's rows (filename starting with "<scenario>-") by status;
/// - duplicated: rows beyond one per filename;
/// - lost: a 200 whose row is missing or whose id, status or data differ from the answer; a 202
///   (asynchronous answer, which precedes the result) whose row is missing or has another id;
///   plus every row still 'processing' or 'queued' once the wait is over, whatever its
///   request's answer.
void check_stored(fault_tally& tally, const std::string& dsn,
                  const std::vector<sent_request>& requests,
                  std::chrono::milliseconds settle = std::chrono::seconds(30));

/// Prints `fault-report: scenario=S sent=N answered=200:x,503:y stored=detected:a,failed:b
/// lost=L duplicated=D` (plus ` note="..."` when there is a note) on stdout, each problem on a
/// line of its own on stderr, and appends a row to <build>/test-artifacts/fault-report.md
/// (created with a header when missing; one O_APPEND write per row, so concurrent test processes
/// may append at once).
void report(const fault_tally& tally);

/// The problems, one per line (for assertion messages).
std::string problems_text(const fault_tally& tally);

/// <build>/test-artifacts: the parent of the test binary's directory (build/bin), created if
/// missing.
std::string test_artifacts_dir();

/// VmRSS of a process in KiB, from /proc/<pid>/status; throws if it cannot be read.
long resident_kib(pid_t pid);

} // namespace imgproc::testing
