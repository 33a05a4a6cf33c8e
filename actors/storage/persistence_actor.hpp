#pragma once

// Persistence: writes and reads task rows (libpqxx) for the pipeline actors.
//
///   receives: (create_atom, new_task)     answers: task id (the row, status processing)
///             (finish_atom, task_outcome) answers: whether a processing row was finished
///             (fail_atom, task_failure)   answers: whether a processing row was failed
///             (get_atom, int64 id)        answers: task_record; fails task_not_found
///             (list_atom, task_filter)    answers: task_page
///             (ping_atom)                 answers: "" when the database answers `SELECT 1`,
///                                         else why not, on one line
///             (sweep_atom, min_age_s)     answers: how many rows it failed that were still
///                                         'processing' after min_age_s (longer than any
///                                         request lives: a crashed gateway's, or lost writes)
///             (enqueue_atom, new_queued_task) answers: the id of the queued task, stored with
///                                         its upload in one statement
///             (claim_atom, int32 limit)   answers: claimed_batch, up to `limit` queued tasks now
///                                         'processing' under this process's name
///             (release_atom, task_release) answers: whether the claim went back to the queue
///             (requeue_atom, int32 max_attempts, int64 min_age_s)
///                                         answers: how many asynchronous tasks of stopped
///                                         processes went back to the queue (and deletes the
///                                         uploads of finished tasks)
///             (flush_atom)                to itself: writes the row writes collected since
///                                         the last flush
///   fails:    database_unavailable (unreachable, restarted, or a statement failed)
//
// libpq blocks, so each persistence actor is detached (its own thread) with its own connection,
// reopened lazily after a failure. A process runs a fixed pool of them (--db-connections).
//
// Row writes (create, finish, fail) are grouped across requests: the first one sends the actor a
// flush message, which queues behind whatever writes are already in its mailbox, and the flush
// writes all of them with one statement per kind (db::write_task_batch), at most `write_group`
// rows at a time. Each write is answered only after its row is committed. An idle actor flushes
// a lone write at once; with `write_group` 1 each write is written as it arrives, no flush.

#include "actors/storage/protocol.hpp"
#include "actors/worker_pool.hpp"

#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace imgproc {

namespace db {
class session;
}

struct pending_task_writes;

struct persistence_state {
  static inline const char* name = "persistence";
  std::unique_ptr<db::session> session;
  load_ptr load;
  std::unique_ptr<pending_task_writes> writes; ///< waiting for the next flush
  std::size_t write_group = 64;                ///< most rows written together
  persistence_state();
  ~persistence_state();
  persistence_state(const persistence_state&) = delete;
  persistence_state& operator=(const persistence_state&) = delete;
};

/// `statement_timeout` bounds each statement on the server (lock waits get half of it);
/// `write_group` is the most row writes written together.
persistence_actor spawn_persistence(caf::actor_system& sys, std::string dsn,
                                    std::chrono::milliseconds statement_timeout,
                                    std::size_t write_group, load_ptr load);

} // namespace imgproc
