#include "db/task_repository.hpp"

#include <algorithm>
#include <pqxx/nontransaction>
#include <pqxx/prepared_statement>
#include <pqxx/result>
#include <stdexcept>

namespace imgproc::db {

namespace {

// Names are prefixed because prepared statements share one namespace per connection.
constexpr const char* create_stmt = "imgproc_task_create";
constexpr const char* create_versioned_stmt = "imgproc_task_create_versioned";
constexpr const char* finish_stmt = "imgproc_task_finish";
constexpr const char* fail_stmt = "imgproc_task_fail";
constexpr const char* find_stmt = "imgproc_task_find";
constexpr const char* fail_abandoned_stmt = "imgproc_task_fail_abandoned";
constexpr const char* fail_stale_stmt = "imgproc_task_fail_stale";

// Timestamps leave the database as ISO 8601 UTC text, whatever the session's time zone.
#define IMGPROC_UTC_ISO(column)                                                                    \
  "to_char(" column " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

// The columns to_task reads, in its order.
#define IMGPROC_TASK_COLUMNS                                                                       \
  "id, pipeline_id, pipeline_version, status, filename, data::text, error, " IMGPROC_UTC_ISO(      \
      "created_at") ", " IMGPROC_UTC_ISO("finished_at") ", owner"

// The creating session's application_name ("imgproc:<instance id>"), or NULL if it has none.
// current_setting() holds the value exactly as pg_stat_activity reports it: the server already
// cut it to 63 bytes and replaced non-ASCII bytes when it was set.
#define IMGPROC_TASK_OWNER "NULLIF(current_setting('application_name'), '')"

// list_tasks filters: one prepared statement per combination (bit set = filter present), each
// naming only the conditions it uses. A single statement with `$1 IS NULL OR pipeline_id = $1`
// would, once PostgreSQL switches to a generic plan, scan the whole primary key for every
// filtered page instead of using the (pipeline_id, id DESC) index.
enum list_filter : unsigned {
  by_pipeline = 1,
  by_status = 2,
  by_after_id = 4,
  filter_combinations = 8
};

std::string list_stmt(unsigned filters) {
  return "imgproc_task_list_" + std::to_string(filters);
}

// PostgreSQL text cannot hold NUL, and libpq passes text parameters as C strings: without this
// check the value would be stored cut short without any error.
std::string text_param(std::string_view value, const char* what) {
  if (value.find('\0') != std::string_view::npos)
    throw std::invalid_argument(std::string(what) + " contains a NUL byte");
  return std::string(value);
}

// A row shaped as IMGPROC_TASK_COLUMNS.
task_record to_task(const pqxx::row& row) {
  task_record task;
  task.id = row[0].as<std::int64_t>();
  task.pipeline_id = row[1].as<int>();
  if (!row[2].is_null())
    task.pipeline_version = row[2].as<int>();
  task.status = row[3].as<std::string>();
  task.filename = row[4].as<std::string>();
  task.data = row[5].is_null() ? nlohmann::json() : nlohmann::json::parse(row[5].c_str());
  if (!row[6].is_null())
    task.error = row[6].as<std::string>();
  task.created_at = row[7].as<std::string>();
  if (!row[8].is_null())
    task.finished_at = row[8].as<std::string>();
  if (!row[9].is_null())
    task.owner = row[9].as<std::string>();
  return task;
}

} // namespace

void prepare_task_statements(pqxx::connection& conn) {
  conn.prepare(create_stmt, "INSERT INTO tasks (pipeline_id, status, filename, owner)"
                            " VALUES ($1, 'processing', $2, " IMGPROC_TASK_OWNER ") RETURNING id");
  // Only for an active pipeline: a request that planned before a DELETE must not add a task
  // to a pipeline that was just deleted or retired.
  conn.prepare(create_versioned_stmt,
               "INSERT INTO tasks (pipeline_id, pipeline_version, status, filename, owner)"
               " SELECT $1, $2, 'processing', $3, " IMGPROC_TASK_OWNER " FROM pipelines"
               " WHERE id = $1 AND retired_at IS NULL RETURNING id");
  conn.prepare(finish_stmt, "UPDATE tasks SET status = $2, data = $3::jsonb, finished_at = now()"
                            " WHERE id = $1 AND status = 'processing'");
  conn.prepare(fail_stmt, "UPDATE tasks SET status = 'failed', error = $2, finished_at = now()"
                          " WHERE id = $1 AND status = 'processing'");
  conn.prepare(find_stmt, "SELECT " IMGPROC_TASK_COLUMNS " FROM tasks WHERE id = $1");
  for (unsigned filters = 0; filters < filter_combinations; ++filters) {
    std::string where;
    int param = 0;
    const auto add = [&](const char* condition) {
      where += (where.empty() ? " WHERE " : " AND ") + std::string(condition) + " $" +
               std::to_string(++param);
    };
    if (filters & by_pipeline)
      add("pipeline_id =");
    if (filters & by_status)
      add("status =");
    if (filters & by_after_id)
      add("id <");
    conn.prepare(list_stmt(filters), "SELECT " IMGPROC_TASK_COLUMNS " FROM tasks" + where +
                                         " ORDER BY id DESC LIMIT $" + std::to_string(++param));
  }
  // A row is abandoned unless a session of this database carries its owner's name. An owner
  // that is NULL or '' (only plain SQL writes '') names nobody: every session without an
  // application_name, psql's sweeps included, reports ''. A session with the same name in another
  // database on the server (another deployment) cannot be working on these rows.
  // pg_stat_activity is read once per statement, so the whole sweep sees one set of sessions.
  conn.prepare(fail_abandoned_stmt,
               "UPDATE tasks SET status = 'failed', error = $1, finished_at = now()"
               " WHERE status = 'processing'"
               " AND created_at <= now() - make_interval(secs => $2)"
               " AND NOT EXISTS ("
               "   SELECT 1 FROM pg_stat_activity a"
               "   WHERE a.application_name = tasks.owner AND tasks.owner <> ''"
               "   AND a.datname = current_database())");
  conn.prepare(fail_stale_stmt,
               "UPDATE tasks SET status = 'failed', error = $1, finished_at = now()"
               " WHERE status = 'processing'"
               " AND created_at <= now() - make_interval(secs => $2)");
}

#undef IMGPROC_TASK_OWNER
#undef IMGPROC_TASK_COLUMNS
#undef IMGPROC_UTC_ISO

std::int64_t create_task(pqxx::connection& conn, int pipeline_id, std::string_view filename) {
  pqxx::nontransaction txn{conn};
  const auto row = txn.exec_prepared1(create_stmt, pipeline_id, text_param(filename, "filename"));
  return row[0].as<std::int64_t>();
}

std::int64_t create_task(pqxx::connection& conn, int pipeline_id, int pipeline_version,
                         std::string_view filename) {
  pqxx::nontransaction txn{conn};
  const auto rows = txn.exec_prepared(create_versioned_stmt, pipeline_id, pipeline_version,
                                      text_param(filename, "filename"));
  if (rows.empty())
    throw pipeline_gone("pipeline " + std::to_string(pipeline_id) +
                        " was deleted or retired before the task started");
  return rows[0][0].as<std::int64_t>();
}

bool finish_task(pqxx::connection& conn, std::int64_t id, std::string_view status,
                 const nlohmann::json& data) {
  if (status != "detected" && status != "undetected" && status != "processed")
    throw std::invalid_argument(
        "finish_task status must be detected, undetected or processed, got " + std::string(status));
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
  return to_task(rows[0]);
}

std::vector<task_record> list_tasks(pqxx::connection& conn, const task_query& query) {
  unsigned filters = 0;
  // All parameters as text: PostgreSQL infers each one's type from the column it is compared to.
  std::vector<std::string> params;
  if (query.pipeline_id) {
    filters |= by_pipeline;
    params.push_back(std::to_string(*query.pipeline_id));
  }
  if (query.status) {
    filters |= by_status;
    params.push_back(text_param(*query.status, "status"));
  }
  if (query.after_id) {
    filters |= by_after_id;
    params.push_back(std::to_string(*query.after_id));
  }
  params.push_back(std::to_string(std::clamp(query.limit, 1, max_task_page)));

  pqxx::nontransaction txn{conn};
  const auto rows =
      txn.exec_prepared(list_stmt(filters), pqxx::prepare::make_dynamic_params(params));
  std::vector<task_record> tasks;
  tasks.reserve(rows.size());
  for (const auto& row : rows)
    tasks.push_back(to_task(row));
  return tasks;
}

std::int64_t fail_abandoned_tasks(pqxx::connection& conn, std::string_view reason,
                                  std::chrono::seconds min_age) {
  if (min_age.count() < 0)
    throw std::invalid_argument("fail_abandoned_tasks min_age must not be negative");
  const std::int64_t seconds = min_age.count();
  pqxx::nontransaction txn{conn};
  return txn.exec_prepared(fail_abandoned_stmt, text_param(reason, "reason"), seconds)
      .affected_rows();
}

std::int64_t fail_stale_tasks(pqxx::connection& conn, std::string_view reason,
                              std::chrono::seconds min_age) {
  if (min_age.count() < 0)
    throw std::invalid_argument("fail_stale_tasks min_age must not be negative");
  const std::int64_t seconds = min_age.count();
  pqxx::nontransaction txn{conn};
  return txn.exec_prepared(fail_stale_stmt, text_param(reason, "reason"), seconds).affected_rows();
}

} // namespace imgproc::db
