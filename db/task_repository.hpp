#pragma once

// Rows of the `tasks` table: one per upload, created 'processing' and finished exactly once as
// 'detected', 'undetected', 'processed' or 'failed'.
//
// Every function runs one statement in its own implicit transaction on `conn`, through prepared
// statements that prepare_task_statements() must have registered on that connection (a
// db::session does it from its prepare hook). All values travel as parameters, never as SQL text.
//
// Errors: pqxx exceptions pass through for the caller to map: pqxx::broken_connection when the
// database is unreachable, pqxx::foreign_key_violation for an unknown pipeline,
// pqxx::data_exception for text PostgreSQL cannot store (invalid UTF-8). std::invalid_argument
// for an embedded NUL byte (libpq would silently cut the string there) or a bad finish status.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/connection>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace imgproc::db {

struct task_record {
  std::int64_t id = 0;
  int pipeline_id = 0;
  std::optional<int> pipeline_version; ///< the version it ran; empty for rows from older binaries
  std::string status;                  ///< processing | detected | undetected | processed | failed
  std::string filename;
  nlohmann::json data; ///< null if the column is SQL NULL
  std::optional<std::string> error;
  std::string created_at;                 ///< ISO 8601 UTC, e.g. 2024-05-01T12:00:00.123456Z
  std::optional<std::string> finished_at; ///< same format; empty while processing
};

/// Registers the statements below on `conn`. Call once per (new) connection.
void prepare_task_statements(pqxx::connection& conn);

/// Inserts a 'processing' task without a pipeline version and returns its id. Prefer the
/// overload below: without the version a task's result cannot be traced to the steps it ran.
std::int64_t create_task(pqxx::connection& conn, int pipeline_id, std::string_view filename);

/// The pipeline of a new task was deleted or retired after its plan was loaded.
class pipeline_gone : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Inserts a 'processing' task that runs `pipeline_version` of the pipeline (the version
/// find_pipeline returned with the steps being run) and returns its id.
/// Throws pipeline_gone if the pipeline is no longer active, pqxx::foreign_key_violation if
/// that pipeline version does not exist.
std::int64_t create_task(pqxx::connection& conn, int pipeline_id, int pipeline_version,
                         std::string_view filename);

/// Records the outcome: `status` must be "detected" or "undetected" (a detector's answer) or
/// "processed" (a pipeline that ends with an image). Changes only a row that is still
/// 'processing', so a late or repeated answer cannot overwrite a result.
/// Returns whether a row changed. Invalid UTF-8 in `data` strings is replaced by U+FFFD.
bool finish_task(pqxx::connection& conn, std::int64_t id, std::string_view status,
                 const nlohmann::json& data);

/// Marks a still-'processing' task failed with `error` and finished now. Returns whether a row
/// changed.
bool fail_task(pqxx::connection& conn, std::int64_t id, std::string_view error);

/// The task, or nullopt if there is no such id.
std::optional<task_record> find_task(pqxx::connection& conn, std::int64_t id);

/// The largest page list_tasks returns.
inline constexpr int max_task_page = 500;

/// Which tasks list_tasks returns. Empty optionals do not filter.
struct task_query {
  std::optional<int> pipeline_id;
  std::optional<std::string> status;
  /// Page size. Callers validate and clamp it to [1, max_task_page] (the API's bounds);
  /// list_tasks clamps it again so that no value can ask for an unbounded result.
  int limit = 50;
  /// Keyset pagination: only tasks with id < after_id, i.e. the page after the one whose last
  /// (smallest) id this is. Unlike OFFSET, pages neither skip nor repeat rows while new tasks
  /// arrive, and every page costs the same.
  std::optional<std::int64_t> after_id;
};

/// Tasks matching `query`, newest first (id descending), at most `query.limit` of them. Served by
/// the index on (pipeline_id, id DESC) when filtering by pipeline, by the primary key otherwise.
/// Throws std::invalid_argument if the status holds a NUL byte.
std::vector<task_record> list_tasks(pqxx::connection& conn, const task_query& query);

/// Marks every 'processing' task failed with `reason`; for startup, when no task can still be in
/// flight. Returns how many rows changed.
std::int64_t fail_abandoned_tasks(pqxx::connection& conn, std::string_view reason);

} // namespace imgproc::db
