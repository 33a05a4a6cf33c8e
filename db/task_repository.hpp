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

#include "core/records.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/connection>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace imgproc::db {

using imgproc::task_record; ///< see core/records.hpp

/// Registers the statements below on `conn`. Call once per (new) connection.
void prepare_task_statements(pqxx::connection& conn);

/// Both create_task overloads record the creating session's application_name as the task's
/// owner (see fail_abandoned_tasks), so set it (db::set_application_name) on the connection
/// first; without one the owner is NULL.
///
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
/// 'processing' under claim number `attempt` (0 for a synchronous task, which is never claimed;
/// claim_tasks' `attempt` for a claimed one), so neither a late or repeated answer nor a process
/// whose claim was requeued can overwrite a result. `pipeline_version` > 0 records the version
/// that actually ran (a queued task may run a newer one than it was queued with); 0 keeps it.
/// Returns whether a row changed. Invalid UTF-8 in `data` strings is replaced by U+FFFD.
bool finish_task(pqxx::connection& conn, std::int64_t id, std::string_view status,
                 const nlohmann::json& data, int attempt = 0, int pipeline_version = 0);

/// Marks a task still 'processing' under claim `attempt` failed with `error` and finished now.
/// Returns whether a row changed.
bool fail_task(pqxx::connection& conn, std::int64_t id, std::string_view error, int attempt = 0);

// --- Writes of many requests at once -------------------------------------------------------------
// Under load a persistence actor finds several requests' row writes in its mailbox. Written
// together they cost one round trip and one commit (one WAL flush) instead of one each, and each
// request is still answered only after its row is committed.

/// Task row writes of different requests, each exactly what create_task (versioned),
/// finish_task or fail_task would write.
struct task_write_batch {
  struct create {
    int pipeline_id = 0;
    int pipeline_version = 0;
    std::string filename;
  };
  struct finish {
    std::int64_t id = 0;
    std::string status;
    nlohmann::json data;
    int attempt = 0;
    int pipeline_version = 0;
  };
  struct fail {
    std::int64_t id = 0;
    std::string error;
    int attempt = 0;
  };
  std::vector<create> creates;
  std::vector<finish> finishes;
  std::vector<fail> fails;

  std::size_t size() const { return creates.size() + finishes.size() + fails.size(); }
};

/// One write's result: what the single-row function returns (create: the id; finish and fail:
/// whether a row changed), or the exception it would have thrown for this write alone
/// (pipeline_gone, std::invalid_argument, pqxx::foreign_key_violation, ...).
template <class T> struct task_write_result {
  T value{};
  std::exception_ptr error;
};

struct task_write_results {
  std::vector<task_write_result<std::int64_t>> created; ///< in the order of batch.creates
  std::vector<task_write_result<bool>> finished;        ///< in the order of batch.finishes
  std::vector<task_write_result<bool>> failed;          ///< in the order of batch.fails
  /// The error that meant the database is unavailable, if a write met one: the caller should
  /// drop the connection (db::session::drop) as db::session::run would have.
  std::exception_ptr unavailable;
};

/// Writes the batch with one statement per kind of write (its own implicit transaction: one
/// commit for all its writes); a kind with a single write runs the single-row function. When a
/// batch statement refuses because of one of its writes (an invalid argument, or a statement
/// error such as a foreign key violation), it has written nothing, and each write of that kind
/// runs alone, so each gets exactly the result and error it would have had on its own and no
/// write is lost or applied twice.
/// Does not throw for the database: once a write meets an error that means the database is
/// unavailable (pqxx::broken_connection, pqxx::in_doubt_error, a statement timeout, ...), that
/// write, the rest of its statement and the writes not yet run get that error, and the results
/// of writes committed before it stay as they are.
task_write_results write_task_batch(pqxx::connection& conn, const task_write_batch& batch);

// --- Asynchronous tasks --------------------------------------------------------------------------
// A queued task and its upload are stored in one statement; any process claims queued tasks
// (FOR UPDATE SKIP LOCKED, so several never take the same one), runs them and finishes them under
// its claim number. See db/migrations/0006_async_tasks.sql for the states.

/// The queue of asynchronous tasks already holds as many as allowed.
class queue_full : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Stores a 'queued' task of `pipeline_version` with its upload `image`, atomically (one
/// statement: committed together or not at all), and returns its id.
/// Throws pipeline_gone if the pipeline is not active, queue_full if `queue_limit` tasks are
/// queued already, std::invalid_argument for a NUL byte in `filename`.
std::int64_t enqueue_task(pqxx::connection& conn, int pipeline_id, int pipeline_version,
                          std::string_view filename, std::string_view image, int queue_limit);

/// A queued task this session has claimed.
struct claimed_task {
  std::int64_t id = 0;
  int pipeline_id = 0;
  int pipeline_version = 0;
  std::string filename;
  int attempt = 0;   ///< this claim's number: pass it to finish_task, fail_task, release_task
  std::string image; ///< the upload
};

/// Claims up to `limit` of the oldest queued tasks for this session (status 'processing', owner
/// = this session's application_name, attempts + 1) and returns them with their uploads. Rows
/// other sessions are claiming at the same moment are skipped, never waited for or taken twice.
/// A claimed task whose upload is missing is failed at once and not returned.
std::vector<claimed_task> claim_tasks(pqxx::connection& conn, int limit);

/// Puts a task claimed under `attempt` back in the queue without counting the attempt (this
/// process had no capacity for it). Returns whether a row changed.
bool release_task(pqxx::connection& conn, std::int64_t id, int attempt);

/// What requeue_abandoned_tasks did.
struct requeue_counts {
  std::int64_t requeued = 0;
  std::int64_t failed = 0;
};

/// Asynchronous tasks still 'processing' whose owner is gone (as for fail_abandoned_tasks) and
/// whose claim is at least `min_age` old go back to 'queued', to be run again by any process;
/// those already claimed `max_attempts` times are failed with `reason` instead (an input that
/// kills every process that takes it must not do so forever). Synchronous tasks are untouched.
/// Throws std::invalid_argument for a negative `min_age` or a NUL byte in `reason`.
requeue_counts requeue_abandoned_tasks(pqxx::connection& conn, int max_attempts,
                                       std::string_view reason,
                                       std::chrono::seconds min_age = std::chrono::seconds(0));

/// Deletes the uploads of tasks that reached a final state. Returns how many.
std::int64_t delete_finished_inputs(pqxx::connection& conn);

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

/// Marks failed with `reason` (error = reason, finished_at = now()) every 'processing' task whose
/// owner is gone and that was created (claimed, for an asynchronous task) at least `min_age` ago.
/// Run requeue_abandoned_tasks first, or asynchronous tasks are failed rather than run again.
/// Returns how many rows changed.
///
/// A task's owner is gone when its owner is NULL or empty (rows from older binaries or plain SQL,
/// which nothing can vouch for) or when no session connected to this database has that
/// application_name in pg_stat_activity. Other gateways sharing the database therefore keep their
/// in-flight rows as long as they hold a connection, and so does the caller's own session.
/// pg_stat_activity shows application_name (and usename, datname) of every session to every
/// role, superuser or not: only columns such as state and query are hidden from other roles
/// (PostgreSQL 15, pg_stat_get_activity; checked as a non-superuser, and by the pg tests).
///
/// Start-up calls it with min_age 0: this instance has a fresh id, so rows of its own earlier run
/// are gone by definition. A periodic sweep passes a min_age longer than any request can take, so
/// a gateway whose connections all blipped at once (e.g. a database restart) is not swept while
/// it reconnects and may still finish its rows; once it has reconnected under the same name its
/// rows count as live again. (The start-up call has no such margin: a gateway that has no
/// connection open at that very moment loses its in-flight rows.)
/// Throws std::invalid_argument for a negative `min_age` or a NUL byte in `reason`.
std::int64_t fail_abandoned_tasks(pqxx::connection& conn, std::string_view reason,
                                  std::chrono::seconds min_age = std::chrono::seconds(0));

/// Marks failed every 'processing' task at least `min_age` old (since it was created, or claimed
/// for an asynchronous task), whoever owns it. A live gateway
/// closes each row within its request deadline plus one database write, so a row older than
/// that was lost (a row write that timed out on the gateway but committed later, a failure that
/// could not be stored). The periodic sweep passes a min_age beyond any request's life.
/// Throws std::invalid_argument for a negative `min_age` or a NUL byte in `reason`.
std::int64_t fail_stale_tasks(pqxx::connection& conn, std::string_view reason,
                              std::chrono::seconds min_age);

} // namespace imgproc::db
