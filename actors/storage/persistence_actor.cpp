#include "actors/storage/persistence_actor.hpp"

#include "actors/metered.hpp"
#include "common/log.hpp"
#include "db/outage_log.hpp"
#include "db/session.hpp"
#include "db/task_repository.hpp"

#include <caf/actor_system.hpp>
#include <caf/spawn_options.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>
#include <exception>
#include <stdexcept>
#include <vector>

namespace imgproc {

/// Row writes waiting for the next flush, with the promises of the requests that sent them.
struct pending_task_writes {
  db::task_write_batch batch;
  std::vector<caf::typed_response_promise<std::int64_t>> created;
  std::vector<caf::typed_response_promise<bool>> finished;
  std::vector<caf::typed_response_promise<bool>> failed;
  bool flush_queued = false;
};

persistence_state::persistence_state() : writes(std::make_unique<pending_task_writes>()) {}
persistence_state::~persistence_state() = default;

namespace {

using pointer = persistence_actor::stateful_pointer<persistence_state>;

/// The request-path error for a repository exception (`what`: the call, for the log).
caf::error db_error(const std::exception_ptr& failure, const char* what) {
  try {
    std::rethrow_exception(failure);
  } catch (const pqxx::broken_connection& e) {
    return database_away(what, e); // one log line for the whole outage, not one per call
  } catch (const db::pipeline_gone& e) {
    return to_caf_error(make_failure(error_code::pipeline_retired, e.what()));
  } catch (const db::queue_full& e) {
    return to_caf_error(make_failure(error_code::overloaded,
                                     std::string{"the queue of asynchronous tasks is full: "} +
                                         e.what() + "; retry shortly"));
  } catch (const pqxx::foreign_key_violation&) {
    // A pipeline deleted (it had no tasks) between loading its plan and creating the task.
    return to_caf_error(make_failure(error_code::pipeline_not_found, "the pipeline was deleted"));
  } catch (const std::exception& e) {
    log::warning("persistence", std::string{what} + " failed: " + e.what());
  } catch (...) {
    log::warning("persistence", std::string{what} + " failed: unknown exception");
  }
  return to_caf_error(make_failure(error_code::database_unavailable,
                                   std::string{"database unavailable: "} + what + " failed"));
}

/// Runs one repository call; any database exception becomes database_unavailable.
template <class T, class F> caf::result<T> with_db(pointer self, const char* what, F&& fn) {
  job_scope scope{*self->state.load};
  try {
    caf::result<T> result = self->state.session->run(std::forward<F>(fn));
    db::outage_log::process().succeeded();
    return result;
  } catch (...) {
    return db_error(std::current_exception(), what);
  }
}

/// with_db() for a row write, timed and counted in the database metrics.
template <class T, class F>
caf::result<T> write_db(pointer self, const char* operation, const char* what, F&& fn) {
  auto start = std::chrono::steady_clock::now();
  auto result = with_db<T>(self, what, std::forward<F>(fn));
  if (auto* metrics = process_metrics())
    metrics->db_write(
        operation, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
        result.flag != caf::rt_error);
  return result;
}

void flush_writes(pointer self);

/// Queues the flush behind the writes already in the mailbox, once per group; a full group is
/// written at once.
void schedule_flush(pointer self) {
  auto& writes = *self->state.writes;
  if (writes.batch.size() >= self->state.write_group) {
    flush_writes(self); // a flush still queued finds nothing to write
    return;
  }
  if (!writes.flush_queued) {
    writes.flush_queued = true;
    self->send(self, flush_atom::value);
  }
}

/// Answers each request of one kind (`results` has one entry per promise).
template <class T>
void deliver_all(pointer self, std::vector<caf::typed_response_promise<T>>& promises,
                 std::vector<db::task_write_result<T>>& results, const char* operation,
                 const char* what, double seconds) {
  auto* metrics = process_metrics();
  for (std::size_t i = 0; i < promises.size(); ++i) {
    bool ok = !results[i].error;
    // Counted before the answer leaves: a client that reads /metrics after its answer must
    // find its write there.
    if (metrics)
      metrics->db_write(operation, seconds, ok);
    self->state.load->done();
    if (ok)
      promises[i].deliver(results[i].value);
    else
      promises[i].deliver(db_error(results[i].error, what));
  }
}

/// Writes everything collected since the last flush and answers each request.
void flush_writes(pointer self) {
  auto writes = std::make_unique<pending_task_writes>();
  std::swap(writes, self->state.writes);
  if (writes->batch.size() == 0)
    return;
  auto start = std::chrono::steady_clock::now();
  db::task_write_results results;
  try {
    results = self->state.session->run(
        [&](pqxx::connection& conn) { return db::write_task_batch(conn, writes->batch); });
  } catch (...) {
    // Could not connect (or the prepare hook failed): nothing was written.
    results.unavailable = std::current_exception();
  }
  if (results.unavailable)
    self->state.session->drop(); // as session::run does for a single write
  else
    db::outage_log::process().succeeded();
  auto missing =
      results.unavailable
          ? results.unavailable
          : std::make_exception_ptr(std::logic_error{"the batch left the write unanswered"});
  auto complete = [&](auto& out, std::size_t n) {
    // Writes the repository did not reach (it stopped, or could not connect) share its error.
    for (std::size_t i = out.size(); i < n; ++i) {
      out.emplace_back();
      out.back().error = missing;
    }
  };
  complete(results.created, writes->created.size());
  complete(results.finished, writes->finished.size());
  complete(results.failed, writes->failed.size());
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (auto* metrics = process_metrics())
    metrics->db_write_batch(writes->batch.size());
  deliver_all(self, writes->created, results.created, "create", "creating a task", seconds);
  deliver_all(self, writes->finished, results.finished, "finish", "storing a result", seconds);
  deliver_all(self, writes->failed, results.failed, "fail", "storing a failure", seconds);
}

persistence_actor::behavior_type persistence(pointer self, std::string dsn,
                                             std::chrono::milliseconds statement_timeout,
                                             std::size_t write_group, load_ptr load) {
  self->state.session =
      db::bounded_session(std::move(dsn), statement_timeout, db::prepare_task_statements);
  self->state.load = std::move(load);
  self->state.write_group = std::max<std::size_t>(write_group, 1);
  auto meter = actor_meter_for("persistence");
  count_running(self, meter);
  return {
      metered(meter, true,
              [self](create_atom, new_task& task) {
                auto& writes = *self->state.writes;
                writes.batch.creates.push_back(
                    {task.pipeline_id, task.pipeline_version, std::move(task.filename)});
                auto promise = self->make_response_promise<std::int64_t>();
                writes.created.push_back(promise);
                schedule_flush(self); // may write the group now, and `writes` with it
                return promise;
              }),
      metered(meter, true,
              [self](finish_atom, task_outcome& outcome) {
                auto& writes = *self->state.writes;
                writes.batch.finishes.push_back({outcome.task_id, std::move(outcome.status),
                                                 std::move(outcome.data), outcome.attempt,
                                                 outcome.pipeline_version});
                auto promise = self->make_response_promise<bool>();
                writes.finished.push_back(promise);
                schedule_flush(self); // may write the group now, and `writes` with it
                return promise;
              }),
      metered(
          meter, true,
          [self](fail_atom, task_failure& failed) {
            auto& writes = *self->state.writes;
            writes.batch.fails.push_back({failed.task_id, std::move(failed.error), failed.attempt});
            auto promise = self->make_response_promise<bool>();
            writes.failed.push_back(promise);
            schedule_flush(self); // may write the group now, and `writes` with it
            return promise;
          }),
      metered(meter, false, [self](flush_atom) { flush_writes(self); }),
      metered(meter, true,
              [self](list_atom, const task_filter& filter) {
                return with_db<task_page>(self, "listing tasks", [&](pqxx::connection& conn) {
                  db::task_query query;
                  query.pipeline_id = filter.pipeline_id;
                  query.status = filter.status;
                  query.limit = filter.limit;
                  query.after_id = filter.after_id;
                  task_page page;
                  page.items = db::list_tasks(conn, query);
                  // A full page may have more behind it; a short one is the last.
                  if (static_cast<int>(page.items.size()) == filter.limit && !page.items.empty())
                    page.next_after_id = page.items.back().id;
                  return page;
                });
              }),
      metered(meter, true,
              [self](ping_atom) {
                job_scope scope{*self->state.load};
                // A connection the server closed is only noticed on use, and then dropped: the
                // second try opens a fresh one, so a database that is back reads as up at once.
                auto problem = self->state.session->health_problem();
                return problem.empty() ? problem : self->state.session->health_problem();
              }),
      metered(meter, true,
              [self](sweep_atom, std::int64_t min_age_seconds) {
                return with_db<std::int64_t>(
                    self, "sweeping abandoned tasks", [&](pqxx::connection& conn) {
                      return db::fail_stale_tasks(
                          conn,
                          "abandoned: still processing after " + std::to_string(min_age_seconds) +
                              " s (its gateway stopped, or a row write was lost)",
                          std::chrono::seconds(min_age_seconds));
                    });
              }),
      metered(meter, true,
              [self](enqueue_atom, const new_queued_task& task) {
                return write_db<std::int64_t>(
                    self, "enqueue", "queueing a task", [&](pqxx::connection& conn) {
                      return db::enqueue_task(conn, task.pipeline_id, task.pipeline_version,
                                              task.filename, task.image, task.queue_limit);
                    });
              }),
      metered(meter, true,
              [self](claim_atom, std::int32_t limit) {
                return with_db<claimed_batch>(
                    self, "claiming queued tasks", [&](pqxx::connection& conn) {
                      claimed_batch batch;
                      for (auto& task : db::claim_tasks(conn, limit))
                        batch.push_back(
                            {task.id, task.pipeline_id, task.pipeline_version,
                             std::move(task.filename), task.attempt,
                             std::make_shared<const std::string>(std::move(task.image))});
                      return batch;
                    });
              }),
      metered(meter, true,
              [self](release_atom, const task_release& claim) {
                return with_db<bool>(self, "releasing a claimed task", [&](pqxx::connection& conn) {
                  return db::release_task(conn, claim.task_id, claim.attempt);
                });
              }),
      metered(meter, true,
              [self](requeue_atom, std::int32_t max_attempts, std::int64_t min_age_seconds) {
                return with_db<std::int64_t>(
                    self, "requeueing abandoned tasks", [&](pqxx::connection& conn) {
                      auto counts = db::requeue_abandoned_tasks(
                          conn, max_attempts,
                          "abandoned: its process stopped during each of " +
                              std::to_string(max_attempts) + " attempts",
                          std::chrono::seconds(min_age_seconds));
                      if (counts.failed > 0)
                        log::warning("persistence", "failed " + std::to_string(counts.failed) +
                                                        " queued task(s) abandoned " +
                                                        std::to_string(max_attempts) + " times");
                      db::delete_finished_inputs(conn);
                      return counts.requeued;
                    });
              }),
      metered(
          meter, true,
          [self](get_atom, std::int64_t id) {
            return with_db<task_record>(
                self, "reading a task", [&](pqxx::connection& conn) -> caf::result<task_record> {
                  auto task = db::find_task(conn, id);
                  if (!task)
                    return to_caf_error(make_failure(error_code::task_not_found,
                                                     "task " + std::to_string(id) + " not found"));
                  return std::move(*task);
                });
          }),
  };
}

} // namespace

persistence_actor spawn_persistence(caf::actor_system& sys, std::string dsn,
                                    std::chrono::milliseconds statement_timeout,
                                    std::size_t write_group, load_ptr load) {
  return sys.spawn<caf::detached>(persistence, std::move(dsn), statement_timeout, write_group,
                                  std::move(load));
}

} // namespace imgproc
