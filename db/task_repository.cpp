#include "db/task_repository.hpp"

#include <algorithm>
#include <pqxx/binarystring>
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
constexpr const char* create_batch_stmt = "imgproc_task_create_batch";
constexpr const char* finish_batch_stmt = "imgproc_task_finish_batch";
constexpr const char* fail_batch_stmt = "imgproc_task_fail_batch";
constexpr const char* find_stmt = "imgproc_task_find";
constexpr const char* fail_abandoned_stmt = "imgproc_task_fail_abandoned";
constexpr const char* fail_stale_stmt = "imgproc_task_fail_stale";
constexpr const char* enqueue_stmt = "imgproc_task_enqueue";
constexpr const char* claim_stmt = "imgproc_task_claim";
constexpr const char* release_stmt = "imgproc_task_release";
constexpr const char* requeue_abandoned_stmt = "imgproc_task_requeue_abandoned";
constexpr const char* delete_inputs_stmt = "imgproc_task_delete_inputs";

// Timestamps leave the database as ISO 8601 UTC text, whatever the session's time zone.
#define IMGPROC_UTC_ISO(column)                                                                    \
  "to_char(" column " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

// The columns to_task reads, in its order.
#define IMGPROC_TASK_COLUMNS                                                                       \
  "id, pipeline_id, pipeline_version, status, filename, data::text, error, " IMGPROC_UTC_ISO(      \
      "created_at") ", " IMGPROC_UTC_ISO("finished_at") ", owner, attempts"

// The creating session's application_name ("imgproc:<instance id>"), or NULL if it has none.
// current_setting() holds the value exactly as pg_stat_activity reports it: the server already
// cut it to 63 bytes and replaced non-ASCII bytes when it was set.
#define IMGPROC_TASK_OWNER "NULLIF(current_setting('application_name'), '')"

// No session of this database carries the row's owner name (see fail_abandoned_tasks).
#define IMGPROC_OWNER_GONE                                                                         \
  "NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = tasks.owner"            \
  " AND tasks.owner <> '' AND a.datname = current_database())"

// The age the sweeps go by: since the claim for an asynchronous task, since creation otherwise.
#define IMGPROC_TASK_AGE_AT_LEAST(param)                                                           \
  " COALESCE(claimed_at, created_at) <= now() - make_interval(secs => " param ")"

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
  task.attempts = row[10].as<int>();
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
  conn.prepare(finish_stmt, "UPDATE tasks SET status = $2, data = $3::jsonb, finished_at = now(),"
                            " pipeline_version = COALESCE(NULLIF($5::int, 0), pipeline_version)"
                            " WHERE id = $1 AND status = 'processing' AND attempts = $4");
  conn.prepare(fail_stmt, "UPDATE tasks SET status = 'failed', error = $2, finished_at = now()"
                          " WHERE id = $1 AND status = 'processing' AND attempts = $3");
  // The batch forms of the three statements above, each over a JSON array of writes tagged with
  // their index "i" in the batch, returning the indexes it wrote. Ids are drawn in a CTE that
  // is evaluated once (nextval is volatile), so the ids returned are the ids inserted.
  conn.prepare(
      create_batch_stmt,
      "WITH input AS (SELECT * FROM jsonb_to_recordset($1::jsonb)"
      "   AS r(i int, pipeline_id int, pipeline_version int, filename text)),"
      " accepted AS (SELECT input.*, nextval(pg_get_serial_sequence('tasks', 'id')) AS id"
      "   FROM input JOIN pipelines p ON p.id = input.pipeline_id"
      "   AND p.retired_at IS NULL ORDER BY input.i),"
      " inserted AS (INSERT INTO tasks"
      "   (id, pipeline_id, pipeline_version, status, filename, owner)"
      "   SELECT id, pipeline_id, pipeline_version, 'processing', filename, " IMGPROC_TASK_OWNER
      " FROM accepted)"
      " SELECT i, id FROM accepted");
  conn.prepare(
      finish_batch_stmt,
      "UPDATE tasks SET status = r.status, data = r.data::jsonb, finished_at = now(),"
      " pipeline_version = COALESCE(NULLIF(r.pipeline_version, 0), tasks.pipeline_version)"
      " FROM jsonb_to_recordset($1::jsonb)"
      "   AS r(i int, id bigint, status text, data text, attempt int, pipeline_version int)"
      " WHERE tasks.id = r.id AND tasks.status = 'processing' AND tasks.attempts = r.attempt"
      " RETURNING r.i");
  conn.prepare(
      fail_batch_stmt,
      "UPDATE tasks SET status = 'failed', error = r.error, finished_at = now()"
      " FROM jsonb_to_recordset($1::jsonb) AS r(i int, id bigint, error text, attempt int)"
      " WHERE tasks.id = r.id AND tasks.status = 'processing' AND tasks.attempts = r.attempt"
      " RETURNING r.i");
  // One statement, so the task and its upload commit together or not at all. Queued rows have
  // no owner: nobody is working on them yet.
  conn.prepare(enqueue_stmt,
               "WITH task AS (INSERT INTO tasks (pipeline_id, pipeline_version, status, filename)"
               " SELECT $1, $2, 'queued', $3 FROM pipelines WHERE id = $1 AND retired_at IS NULL"
               // Counts at most $5 queued rows (the partial index), however long the queue.
               " AND (SELECT count(*) FROM (SELECT 1 FROM tasks WHERE status = 'queued'"
               "      LIMIT $5) AS waiting) < $5"
               " RETURNING id)"
               " INSERT INTO task_inputs (task_id, image) SELECT id, $4 FROM task"
               " RETURNING task_id");
  // SKIP LOCKED: rows another session is claiming right now are passed over, not waited for,
  // so any number of processes claim concurrently without ever taking the same task.
  conn.prepare(claim_stmt,
               "UPDATE tasks SET status = 'processing', attempts = tasks.attempts + 1,"
               " claimed_at = now(), owner = " IMGPROC_TASK_OWNER
               " FROM (SELECT id FROM tasks WHERE status = 'queued' ORDER BY id LIMIT $1"
               "       FOR UPDATE SKIP LOCKED) AS next"
               " WHERE tasks.id = next.id"
               " RETURNING tasks.id, tasks.pipeline_id, tasks.pipeline_version, tasks.filename,"
               " tasks.attempts, (SELECT i.image FROM task_inputs i WHERE i.task_id = tasks.id)");
  conn.prepare(release_stmt,
               "UPDATE tasks SET status = 'queued', attempts = attempts - 1, owner = NULL,"
               " claimed_at = NULL WHERE id = $1 AND status = 'processing' AND attempts = $2");
  conn.prepare(requeue_abandoned_stmt,
               "UPDATE tasks SET"
               " status = CASE WHEN attempts < $1 THEN 'queued' ELSE 'failed' END,"
               " error = CASE WHEN attempts < $1 THEN error ELSE $2 END,"
               " finished_at = CASE WHEN attempts < $1 THEN NULL ELSE now() END,"
               " owner = CASE WHEN attempts < $1 THEN NULL ELSE owner END,"
               " claimed_at = CASE WHEN attempts < $1 THEN NULL ELSE claimed_at END"
               " WHERE status = 'processing'"
               " AND EXISTS (SELECT 1 FROM task_inputs i WHERE i.task_id = tasks.id)"
               " AND" IMGPROC_TASK_AGE_AT_LEAST("$3") " AND " IMGPROC_OWNER_GONE
                                                      " RETURNING status");
  conn.prepare(delete_inputs_stmt, "DELETE FROM task_inputs i USING tasks t WHERE i.task_id = t.id"
                                   " AND t.status NOT IN ('queued', 'processing')");
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
               " AND" IMGPROC_TASK_AGE_AT_LEAST("$2") " AND " IMGPROC_OWNER_GONE);
  conn.prepare(fail_stale_stmt,
               "UPDATE tasks SET status = 'failed', error = $1, finished_at = now()"
               " WHERE status = 'processing'"
               " AND" IMGPROC_TASK_AGE_AT_LEAST("$2"));
}

#undef IMGPROC_TASK_AGE_AT_LEAST
#undef IMGPROC_OWNER_GONE
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

namespace {

void check_finish_status(std::string_view status) {
  if (status != "detected" && status != "undetected" && status != "processed")
    throw std::invalid_argument(
        "finish_task status must be detected, undetected or processed, got " + std::string(status));
}

// Replace rather than throw on invalid UTF-8: the detector's answer is worth keeping.
std::string result_json(const nlohmann::json& data) {
  return data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace

bool finish_task(pqxx::connection& conn, std::int64_t id, std::string_view status,
                 const nlohmann::json& data, int attempt, int pipeline_version) {
  check_finish_status(status);
  const std::string json = result_json(data);
  pqxx::nontransaction txn{conn};
  return txn.exec_prepared(finish_stmt, id, std::string(status), json, attempt, pipeline_version)
             .affected_rows() > 0;
}

bool fail_task(pqxx::connection& conn, std::int64_t id, std::string_view error, int attempt) {
  pqxx::nontransaction txn{conn};
  return txn.exec_prepared(fail_stmt, id, text_param(error, "error"), attempt).affected_rows() > 0;
}

namespace {

/// Runs `write` alone, storing its value or its exception. After an error that means the database
/// is unavailable (`gone`), the writes not yet run get that error without being tried.
template <class T, class F>
void run_alone(task_write_result<T>& result, std::exception_ptr& gone, F&& write) {
  if (gone) {
    result.error = gone;
    return;
  }
  try {
    result.value = write();
  } catch (const pqxx::broken_connection&) {
    result.error = gone = std::current_exception();
  } catch (const pqxx::in_doubt_error&) {
    result.error = gone = std::current_exception();
  } catch (...) {
    result.error = std::current_exception();
  }
}

/// Whether a batch statement's error belongs to one of its writes rather than to the database:
/// the statement wrote nothing (it is its own transaction), and each write then runs alone.
/// Any other error is the database's: every write of the statement gets it (`gone`), and the
/// writes not yet run get it too.
template <class T, class F>
bool batch_refused(std::vector<task_write_result<T>>& results, std::exception_ptr& gone,
                   F&& statement) {
  try {
    statement();
    return false;
  } catch (const std::invalid_argument&) {
    return true; // a NUL byte or a bad status, found while building the statement's input
  } catch (const nlohmann::json::exception&) {
    return true; // text that is not UTF-8
  } catch (const pqxx::integrity_constraint_violation&) {
    return true; // e.g. one write's pipeline version was deleted meanwhile
  } catch (const pqxx::data_exception&) {
    return true; // text PostgreSQL refuses
  } catch (const pqxx::serialization_failure&) {
    return true;
  } catch (const pqxx::deadlock_detected&) {
    return true;
  } catch (...) {
    gone = std::current_exception();
    for (auto& r : results) {
      r.value = T{};
      r.error = gone;
    }
    return false;
  }
}

void create_batch(pqxx::connection& conn, const std::vector<task_write_batch::create>& writes,
                  std::vector<task_write_result<std::int64_t>>& results, std::exception_ptr& gone) {
  const auto alone = [&] {
    for (std::size_t i = 0; i < writes.size(); ++i)
      run_alone(results[i], gone, [&] {
        return create_task(conn, writes[i].pipeline_id, writes[i].pipeline_version,
                           writes[i].filename);
      });
  };
  if (writes.size() <= 1 || gone)
    return alone();
  std::vector<bool> created(writes.size(), false);
  bool refused = batch_refused(results, gone, [&] {
    nlohmann::json input = nlohmann::json::array();
    for (std::size_t i = 0; i < writes.size(); ++i)
      input.push_back({{"i", i},
                       {"pipeline_id", writes[i].pipeline_id},
                       {"pipeline_version", writes[i].pipeline_version},
                       {"filename", text_param(writes[i].filename, "filename")}});
    pqxx::nontransaction txn{conn};
    for (const auto& row : txn.exec_prepared(create_batch_stmt, input.dump())) {
      auto i = row[0].as<std::size_t>();
      results.at(i).value = row[1].as<std::int64_t>();
      created.at(i) = true;
    }
  });
  if (refused)
    return alone();
  for (std::size_t i = 0; i < writes.size(); ++i)
    if (!created[i] && !gone)
      results[i].error = std::make_exception_ptr(
          pipeline_gone("pipeline " + std::to_string(writes[i].pipeline_id) +
                        " was deleted or retired before the task started"));
}

/// Runs a finish or fail batch statement over `input` (built by `make_input`), marking the
/// returned indexes true; each write runs alone (`alone(i)`) if the statement refuses.
template <class MakeInput, class Alone>
void update_batch(pqxx::connection& conn, const char* statement, std::size_t count,
                  MakeInput&& make_input, Alone&& alone,
                  std::vector<task_write_result<bool>>& results, std::exception_ptr& gone) {
  const auto each_alone = [&] {
    for (std::size_t i = 0; i < count; ++i)
      run_alone(results[i], gone, [&] { return alone(i); });
  };
  if (count <= 1 || gone)
    return each_alone();
  bool refused = batch_refused(results, gone, [&] {
    const std::string input = make_input();
    pqxx::nontransaction txn{conn};
    for (const auto& row : txn.exec_prepared(statement, input))
      results.at(row[0].as<std::size_t>()).value = true;
  });
  if (refused) {
    for (auto& r : results)
      r.value = false;
    each_alone();
  }
}

} // namespace

task_write_results write_task_batch(pqxx::connection& conn, const task_write_batch& batch) {
  task_write_results results;
  results.created.resize(batch.creates.size());
  results.finished.resize(batch.finishes.size());
  results.failed.resize(batch.fails.size());
  std::exception_ptr gone; // the database's error, once one write met it
  create_batch(conn, batch.creates, results.created, gone);
  update_batch(
      conn, finish_batch_stmt, batch.finishes.size(),
      [&] {
        nlohmann::json input = nlohmann::json::array();
        for (std::size_t i = 0; i < batch.finishes.size(); ++i) {
          const auto& w = batch.finishes[i];
          check_finish_status(w.status);
          input.push_back({{"i", i},
                           {"id", w.id},
                           {"status", w.status},
                           {"data", result_json(w.data)},
                           {"attempt", w.attempt},
                           {"pipeline_version", w.pipeline_version}});
        }
        return input.dump();
      },
      [&](std::size_t i) {
        const auto& w = batch.finishes[i];
        return finish_task(conn, w.id, w.status, w.data, w.attempt, w.pipeline_version);
      },
      results.finished, gone);
  update_batch(
      conn, fail_batch_stmt, batch.fails.size(),
      [&] {
        nlohmann::json input = nlohmann::json::array();
        for (std::size_t i = 0; i < batch.fails.size(); ++i) {
          const auto& w = batch.fails[i];
          input.push_back({{"i", i},
                           {"id", w.id},
                           {"error", text_param(w.error, "error")},
                           {"attempt", w.attempt}});
        }
        return input.dump();
      },
      [&](std::size_t i) {
        const auto& w = batch.fails[i];
        return fail_task(conn, w.id, w.error, w.attempt);
      },
      results.failed, gone);
  results.unavailable = gone;
  return results;
}

std::int64_t enqueue_task(pqxx::connection& conn, int pipeline_id, int pipeline_version,
                          std::string_view filename, std::string_view image, int queue_limit) {
  // Sent as a binary parameter: no escaping, no text round trip for the image bytes.
  const pqxx::binarystring bytes{image.data(), image.size()};
  pqxx::nontransaction txn{conn};
  const auto rows = txn.exec_prepared(enqueue_stmt, pipeline_id, pipeline_version,
                                      text_param(filename, "filename"), bytes, queue_limit);
  if (rows.empty()) {
    // Either the pipeline went away or the queue is full; the rare second query tells which.
    const auto active = txn.exec_params(
        "SELECT 1 FROM pipelines WHERE id = $1 AND retired_at IS NULL", pipeline_id);
    if (active.empty())
      throw pipeline_gone("pipeline " + std::to_string(pipeline_id) +
                          " was deleted or retired before the task was queued");
    throw queue_full(std::to_string(queue_limit) + " tasks are already queued");
  }
  return rows[0][0].as<std::int64_t>();
}

std::vector<claimed_task> claim_tasks(pqxx::connection& conn, int limit) {
  std::vector<claimed_task> claimed;
  if (limit <= 0)
    return claimed;
  pqxx::result rows;
  {
    pqxx::nontransaction txn{conn};
    rows = txn.exec_prepared(claim_stmt, limit);
  }
  claimed.reserve(rows.size());
  for (const auto& row : rows) {
    claimed_task task;
    task.id = row[0].as<std::int64_t>();
    task.pipeline_id = row[1].as<int>();
    task.pipeline_version = row[2].is_null() ? 0 : row[2].as<int>();
    task.filename = row[3].as<std::string>();
    task.attempt = row[4].as<int>();
    if (row[5].is_null()) {
      fail_task(conn, task.id, "the task's upload is missing", task.attempt);
      continue;
    }
    task.image = pqxx::binarystring{row[5]}.str();
    claimed.push_back(std::move(task));
  }
  return claimed;
}

bool release_task(pqxx::connection& conn, std::int64_t id, int attempt) {
  pqxx::nontransaction txn{conn};
  return txn.exec_prepared(release_stmt, id, attempt).affected_rows() > 0;
}

requeue_counts requeue_abandoned_tasks(pqxx::connection& conn, int max_attempts,
                                       std::string_view reason, std::chrono::seconds min_age) {
  if (min_age.count() < 0)
    throw std::invalid_argument("requeue_abandoned_tasks min_age must not be negative");
  const std::int64_t seconds = min_age.count();
  pqxx::nontransaction txn{conn};
  const auto rows = txn.exec_prepared(requeue_abandoned_stmt, max_attempts,
                                      text_param(reason, "reason"), seconds);
  requeue_counts counts;
  for (const auto& row : rows)
    ++(row[0].as<std::string>() == "queued" ? counts.requeued : counts.failed);
  return counts;
}

std::int64_t delete_finished_inputs(pqxx::connection& conn) {
  pqxx::nontransaction txn{conn};
  return txn.exec_prepared(delete_inputs_stmt).affected_rows();
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
