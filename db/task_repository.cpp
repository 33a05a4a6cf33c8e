#include "db/task_repository.hpp"

#include <pqxx/nontransaction>
#include <pqxx/result>
#include <stdexcept>

namespace imgproc::db {

namespace {

// Names are prefixed because prepared statements share one namespace per connection.
constexpr const char* create_stmt = "imgproc_task_create";
constexpr const char* finish_stmt = "imgproc_task_finish";
constexpr const char* fail_stmt = "imgproc_task_fail";
constexpr const char* find_stmt = "imgproc_task_find";
constexpr const char* fail_abandoned_stmt = "imgproc_task_fail_abandoned";

// Timestamps leave the database as ISO 8601 UTC text, whatever the session's time zone.
#define IMGPROC_UTC_ISO(column)                                                                    \
  "to_char(" column " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

// PostgreSQL text cannot hold NUL, and libpq passes text parameters as C strings: without this
// check the value would be stored cut short without any error.
std::string text_param(std::string_view value, const char* what) {
  if (value.find('\0') != std::string_view::npos)
    throw std::invalid_argument(std::string(what) + " contains a NUL byte");
  return std::string(value);
}

} // namespace

void prepare_task_statements(pqxx::connection& conn) {
  conn.prepare(create_stmt, "INSERT INTO tasks (pipeline_id, status, filename)"
                            " VALUES ($1, 'processing', $2) RETURNING id");
  conn.prepare(finish_stmt, "UPDATE tasks SET status = $2, data = $3::jsonb, finished_at = now()"
                            " WHERE id = $1 AND status = 'processing'");
  conn.prepare(fail_stmt, "UPDATE tasks SET status = 'failed', error = $2, finished_at = now()"
                          " WHERE id = $1 AND status = 'processing'");
  // clang-format off
  conn.prepare(find_stmt,
               "SELECT id, pipeline_id, status, filename, data::text, error, "
               IMGPROC_UTC_ISO("created_at") ", " IMGPROC_UTC_ISO("finished_at")
               " FROM tasks WHERE id = $1");
  // clang-format on
  conn.prepare(fail_abandoned_stmt,
               "UPDATE tasks SET status = 'failed', error = $1, finished_at = now()"
               " WHERE status = 'processing'");
}

#undef IMGPROC_UTC_ISO

std::int64_t create_task(pqxx::connection& conn, int pipeline_id, std::string_view filename) {
  pqxx::nontransaction txn{conn};
  const auto row = txn.exec_prepared1(create_stmt, pipeline_id, text_param(filename, "filename"));
  return row[0].as<std::int64_t>();
}

bool finish_task(pqxx::connection& conn, std::int64_t id, std::string_view status,
                 const nlohmann::json& data) {
  if (status != "detected" && status != "undetected")
    throw std::invalid_argument("finish_task status must be detected or undetected, got " +
                                std::string(status));
  // Replace rather than throw on invalid UTF-8: the detector's answer is worth keeping.
  const std::string json = data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  pqxx::nontransaction txn{conn};
  return txn.exec_prepared(finish_stmt, id, std::string(status), json).affected_rows() > 0;
}

bool fail_task(pqxx::connection& conn, std::int64_t id, std::string_view error) {
  pqxx::nontransaction txn{conn};
  return txn.exec_prepared(fail_stmt, id, text_param(error, "error")).affected_rows() > 0;
}

std::optional<task_record> find_task(pqxx::connection& conn, std::int64_t id) {
  pqxx::nontransaction txn{conn};
  const auto rows = txn.exec_prepared(find_stmt, id);
  if (rows.empty())
    return std::nullopt;
  const auto row = rows[0];
  task_record task;
  task.id = row[0].as<std::int64_t>();
  task.pipeline_id = row[1].as<int>();
  task.status = row[2].as<std::string>();
  task.filename = row[3].as<std::string>();
  task.data = row[4].is_null() ? nlohmann::json() : nlohmann::json::parse(row[4].c_str());
  if (!row[5].is_null())
    task.error = row[5].as<std::string>();
  task.created_at = row[6].as<std::string>();
  if (!row[7].is_null())
    task.finished_at = row[7].as<std::string>();
  return task;
}

std::int64_t fail_abandoned_tasks(pqxx::connection& conn, std::string_view reason) {
  pqxx::nontransaction txn{conn};
  return txn.exec_prepared(fail_abandoned_stmt, text_param(reason, "reason")).affected_rows();
}

} // namespace imgproc::db
