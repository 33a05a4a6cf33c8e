#pragma once

// Rows of the `tasks` table: one per upload, created 'processing' and finished exactly once as
// 'detected', 'undetected' or 'failed'.
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
#include <string>
#include <string_view>

namespace imgproc::db {

struct task_record {
  std::int64_t id = 0;
  int pipeline_id = 0;
  std::string status; ///< processing | detected | undetected | failed
  std::string filename;
  nlohmann::json data; ///< null if the column is SQL NULL
  std::optional<std::string> error;
  std::string created_at;                 ///< ISO 8601 UTC, e.g. 2024-05-01T12:00:00.123456Z
  std::optional<std::string> finished_at; ///< same format; empty while processing
};

/// Registers the statements below on `conn`. Call once per (new) connection.
void prepare_task_statements(pqxx::connection& conn);

/// Inserts a 'processing' task and returns its id.
std::int64_t create_task(pqxx::connection& conn, int pipeline_id, std::string_view filename);

/// Records the detector's answer: `status` must be "detected" or "undetected". Changes only a
/// row that is still 'processing', so a late or repeated answer cannot overwrite a result.
/// Returns whether a row changed. Invalid UTF-8 in `data` strings is replaced by U+FFFD.
bool finish_task(pqxx::connection& conn, std::int64_t id, std::string_view status,
                 const nlohmann::json& data);

/// Marks a still-'processing' task failed with `error` and finished now. Returns whether a row
/// changed.
bool fail_task(pqxx::connection& conn, std::int64_t id, std::string_view error);

/// The task, or nullopt if there is no such id.
std::optional<task_record> find_task(pqxx::connection& conn, std::int64_t id);

/// Marks every 'processing' task failed with `reason`; for startup, when no task can still be in
/// flight. Returns how many rows changed.
std::int64_t fail_abandoned_tasks(pqxx::connection& conn, std::string_view reason);

} // namespace imgproc::db
