#include "actors/request/pipeline_actor.hpp"

#include "actors/cluster/protocol.hpp"
#include "common/log.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

namespace imgproc {
namespace {

using pointer = caf::stateful_actor<pipeline_state>*;

std::chrono::milliseconds time_left(pointer self) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      self->state.request.deadline - std::chrono::steady_clock::now());
  return std::max(left, std::chrono::milliseconds(1));
}

std::string describe(pointer self) {
  return "pipeline " + std::to_string(self->state.request.pipeline_id) +
         (self->state.task_id ? ", task " + std::to_string(self->state.task_id) : "");
}

/// Sends the client its answer, once. Does not end the actor.
void answer(pointer self, result<task_answer> outcome) {
  if (self->state.answered)
    return;
  self->state.answered = true;
  if (outcome)
    outcome->node = self->state.node;
  self->state.reply->send(std::move(outcome));
}

void answer_failure(pointer self, const failure& f) {
  if (self->state.answered)
    return;
  std::string what = "request " + self->state.request.request_id + ", " + describe(self) + ": " +
                     to_string(f.code) + ": " + f.detail;
  // Server-side failures are warnings; a client's bad image is routine.
  if (is_server_side(f.code))
    log::warning("pipeline", what);
  else
    log::info("pipeline", what);
  answer(self, f);
}

bool database_away(const failure& f) {
  return f.code == error_code::database_unavailable || f.code == error_code::deadline_exceeded;
}

/// Runs `write` again after a backoff (100 ms doubling to 2 s) while the database is away, for at
/// most services->row_close_window from the first failure; then gives up and ends the actor (the
/// sweeper fails the row once it is older than any request can live).
void retry_write_later(pointer self, std::function<void()> write) {
  auto& st = self->state;
  auto now = std::chrono::steady_clock::now();
  if (st.write_retries == 0)
    st.give_up_writes = now + st.services->row_close_window;
  if (now >= st.give_up_writes) {
    log::warning("pipeline", describe(self) + ": gave up writing the row after " +
                                 std::to_string(st.write_retries) +
                                 " tries; the sweeper will mark it failed");
    self->quit();
    return;
  }
  auto delay = std::min(std::chrono::milliseconds(100 << std::min(st.write_retries, 5)),
                        std::chrono::milliseconds(2000));
  ++st.write_retries;
  st.retry_write = std::move(write);
  self->delayed_send(self, delay, retry_atom::value);
}

/// Marks the row failed with `error`, retrying while the database is away; then ends.
void write_failure(pointer self, std::string error) {
  task_failure row{self->state.task_id, error, self->state.attempt};
  self->request(self->state.services->persistence.pick(), self->state.services->db_timeout,
                fail_atom::value, std::move(row))
      .then(metered(self->state.meter, false,
                    [self](bool) {
                      if (auto* metrics = process_metrics())
                        metrics->task_finished(self->state.request.pipeline_id, "failed");
                      self->quit();
                    }),
            metered(self->state.meter, false, [self, error](caf::error& err) {
              if (!database_away(from_caf_error(err)))
                return self->quit();
              retry_write_later(self, [self, error] { write_failure(self, error); });
            }));
}

/// Marks the row failed, answers the client (unless it already has its answer) and ends.
void store_failure_and_quit(pointer self, failure f) {
  self->state.phase = pipeline_phase::storing;
  std::string error = std::string{to_string(f.code)} + ": " + f.detail;
  task_failure row{self->state.task_id, error, self->state.attempt};
  self->request(self->state.services->persistence.pick(), self->state.services->db_timeout,
                fail_atom::value, std::move(row))
      .then(metered(self->state.meter, false,
                    [self, f](bool) {
                      if (auto* metrics = process_metrics())
                        metrics->task_finished(self->state.request.pipeline_id, "failed");
                      answer_failure(self, f);
                      self->quit();
                    }),
            metered(self->state.meter, false, [self, f, error](caf::error& err) {
              auto why = from_caf_error(err);
              log::warning("pipeline",
                           describe(self) + ": the row could not be marked failed: " + why.detail);
              answer_failure(self, f);
              if (!database_away(why))
                return self->quit();
              retry_write_later(self, [self, error] { write_failure(self, error); });
            }));
}

/// A failure on the request path: stored on the row when there is one.
void fail(pointer self, failure f) {
  if (self->state.task_id == 0) {
    answer_failure(self, f);
    self->quit();
    return;
  }
  store_failure_and_quit(self, std::move(f));
}

/// A claimed task this process has no capacity for goes back to the queue, uncounted.
void release_claim(pointer self, failure why) {
  self->state.phase = pipeline_phase::storing;
  task_release claim{self->state.task_id, self->state.attempt};
  self->request(self->state.services->persistence.pick(), self->state.services->db_timeout,
                release_atom::value, claim)
      .then(metered(self->state.meter, false,
                    [self, why](bool released) {
                      if (auto* metrics = process_metrics(); metrics && released)
                        metrics->async_tasks("released");
                      answer_failure(self, why);
                      self->quit();
                    }),
            metered(self->state.meter, false, [self, why](caf::error& err) {
              answer_failure(self, why);
              if (!database_away(from_caf_error(err)))
                return self->quit();
              retry_write_later(self, [self, why] { release_claim(self, why); });
            }));
}

void answer_result(pointer self, const std::string& status, const nlohmann::json& data) {
  if (auto* metrics = process_metrics())
    metrics->task_finished(self->state.request.pipeline_id, status);
  const auto& req = self->state.request;
  task_answer done;
  done.id = self->state.task_id;
  done.pipeline_id = req.pipeline_id;
  done.status = status;
  done.filename = req.filename;
  done.data = data;
  answer(self, std::move(done));
}

/// Stores the outcome under the task's claim; the result is answered only once it is stored.
void store_outcome(pointer self, task_outcome outcome) {
  self->request(self->state.services->persistence.pick(), self->state.services->db_timeout,
                finish_atom::value, outcome)
      .then(metered(self->state.meter, false,
                    [self, outcome](bool stored) {
                      if (stored)
                        answer_result(self, outcome.status, outcome.data);
                      else
                        // Another process already closed the row (e.g. its start-up sweep
                        // failed it, or requeued a claim it took for abandoned): the result is
                        // not what is stored, so it is not returned.
                        answer_failure(
                            self, make_failure(error_code::internal,
                                               "task " + std::to_string(self->state.task_id) +
                                                   " was closed elsewhere; result not stored"));
                      self->quit();
                    }),
            metered(self->state.meter, false, [self, outcome](caf::error& err) {
              auto why = from_caf_error(err);
              if (self->state.mode == pipeline_mode::run_claimed) {
                // Nobody waits on a queued task: its result is still true once the database is
                // back, so store that rather than a failure.
                if (!database_away(why))
                  return store_failure_and_quit(self, why);
                return retry_write_later(self, [self, outcome] { store_outcome(self, outcome); });
              }
              // The client is told at once that the result was not stored, and the row is closed
              // as failed once the database answers again.
              answer_failure(self, make_failure(error_code::database_unavailable,
                                                "the result could not be stored: " + why.detail));
              if (!database_away(why))
                return self->quit();
              auto error = std::string{to_string(error_code::database_unavailable)} +
                           ": the result could not be stored in time";
              retry_write_later(self, [self, error] { write_failure(self, error); });
            }));
}

void finish(pointer self, node_result result) {
  self->state.phase = pipeline_phase::storing;
  self->state.node = result.node;
  auto data = result.output();
  if (!data) {
    fail(self,
         make_failure(error_code::internal, "node " + result.node + " answered malformed JSON"));
    return;
  }
  store_outcome(self, task_outcome{self->state.task_id, std::move(result.status), std::move(*data),
                                   self->state.attempt, self->state.plan->version});
}

/// Hands the image work to the dispatcher, which runs every step on one node (this process's own
/// or a worker's) and answers the outcome.
void run_steps(pointer self) {
  auto& st = self->state;
  st.phase = pipeline_phase::running;
  node_job job;
  job.task_id = st.task_id;
  job.pipeline_id = st.plan->id;
  job.pipeline_version = st.plan->version;
  job.steps_json = st.plan->steps_json;
  job.plan = st.plan; // used as it is when the job runs in this process
  job.image = shared_bytes{st.request.owner, st.request.image};
  job.client_gone = st.request.client_gone;
  job.time_left_ms = time_left(self).count();
  // The dispatcher answers by the deadline plus a 250 ms grace; this timeout is a backstop that
  // still leaves the final row write time before RESTinio's own limit (app/settings.cpp).
  if (st.services->dispatcher_meter)
    st.services->dispatcher_meter->sent();
  self->request(st.services->dispatcher, time_left(self) + std::chrono::seconds(1), run_atom::value,
                std::move(job))
      .then(metered(self->state.meter, false,
                    [self](node_result& result) { finish(self, std::move(result)); }),
            metered(self->state.meter, false, [self](caf::error& err) {
              auto why = from_caf_error(err);
              if (self->state.mode == pipeline_mode::run_claimed &&
                  why.code == error_code::overloaded)
                return release_claim(self, std::move(why));
              fail(self, std::move(why));
            }));
}

void create_task(pointer self) {
  self->state.phase = pipeline_phase::creating;
  new_task task{self->state.request.pipeline_id, self->state.plan->version,
                self->state.request.filename};
  self->request(self->state.services->persistence.pick(), self->state.services->db_timeout,
                create_atom::value, std::move(task))
      .then(
          metered(self->state.meter, false,
                  [self](std::int64_t id) {
                    self->state.task_id = id;
                    if (self->state.answered) // the deadline passed while the row was being created
                      store_failure_and_quit(
                          self,
                          make_failure(error_code::deadline_exceeded,
                                       "the request ran out of time before processing started"));
                    else
                      run_steps(self);
                  }),
          metered(self->state.meter, false,
                  [self](caf::error& err) { fail(self, from_caf_error(err)); }));
}

/// Stores the task 'queued' with its upload and answers 202 once both are committed.
void enqueue_task(pointer self) {
  auto& st = self->state;
  st.phase = pipeline_phase::creating;
  new_queued_task task{st.request.pipeline_id, st.plan->version, st.request.filename,
                       st.request.image,       st.request.owner, st.services->async_queue_limit};
  self->request(st.services->persistence.pick(), st.services->db_timeout, enqueue_atom::value,
                std::move(task))
      .then(metered(self->state.meter, false,
                    [self](std::int64_t id) {
                      auto& st = self->state;
                      st.task_id = id;
                      if (auto* metrics = process_metrics())
                        metrics->task_finished(st.request.pipeline_id, "queued");
                      task_answer queued;
                      queued.id = id;
                      queued.pipeline_id = st.request.pipeline_id;
                      queued.status = "queued";
                      queued.filename = st.request.filename;
                      queued.queued = true;
                      answer(self, std::move(queued));
                      if (st.services->async_runner)
                        caf::anon_send(st.services->async_runner, claim_atom::value);
                      self->quit();
                    }),
            metered(self->state.meter, false, [self](caf::error& err) {
              answer_failure(self, from_caf_error(err));
              self->quit();
            }));
}

void on_plan(pointer self, plan_ptr plan) {
  auto& st = self->state;
  if (st.phase != pipeline_phase::loading)
    return; // the deadline passed while loading; the actor is closing the claimed row
  st.plan = std::move(plan);
  // Before the task row and any image work: a request over its budget is refused outright.
  if (auto estimate = plan_budget(*st.plan, st.request.image, st.services->budget); !estimate)
    return fail(self, estimate.error());
  switch (st.mode) {
    case pipeline_mode::run:
      return create_task(self);
    case pipeline_mode::enqueue:
      return enqueue_task(self);
    case pipeline_mode::run_claimed:
      return run_steps(self);
  }
}

void on_deadline(pointer self) {
  auto& st = self->state;
  if (st.answered)
    return;
  switch (st.phase) {
    case pipeline_phase::loading:
      // A claimed task has its row already: fail() marks it failed.
      fail(self, make_failure(error_code::deadline_exceeded,
                              "the request ran out of time loading the pipeline"));
      break;
    case pipeline_phase::creating:
      // A queued task is answered when the database has said whether it is stored: a 504 for a
      // task that is in fact queued would invite a duplicate.
      if (st.mode == pipeline_mode::enqueue)
        break;
      // Answer now; the actor stays until the row exists, then marks it failed.
      answer_failure(self, make_failure(error_code::deadline_exceeded,
                                        "the request ran out of time creating the task"));
      break;
    case pipeline_phase::running:
      // The dispatcher answers the job by the deadline (naming the step that ran out of time,
      // when the node reports it in time); its answer closes the row.
      break;
    case pipeline_phase::storing:
      break; // the row write in flight decides the answer; it has its own timeout
  }
}

caf::behavior pipeline(pointer self, services_ptr services, process_request request,
                       answer_ptr<task_answer> reply, task_claim claim,
                       std::shared_ptr<std::unique_ptr<running_pipeline>> running) {
  auto& st = self->state;
  st.meter = services->pipeline_meter ? services->pipeline_meter : actor_meter_for("pipeline");
  count_running(self, st.meter);
  st.running = std::move(*running);
  st.services = std::move(services);
  st.request = std::move(request);
  st.reply = std::move(reply);
  st.task_id = claim.task_id;
  st.attempt = claim.attempt;
  st.mode = claim.task_id != 0 ? pipeline_mode::run_claimed
            : st.request.async ? pipeline_mode::enqueue
                               : pipeline_mode::run;
  self->delayed_send(self, time_left(self), deadline_atom::value);
  self->request(st.services->catalog, time_left(self), get_atom::value, st.request.pipeline_id)
      .then(metered(self->state.meter, false,
                    [self](plan_ptr& plan) { on_plan(self, std::move(plan)); }),
            metered(self->state.meter, false, [self](caf::error& err) {
              if (self->state.phase != pipeline_phase::loading)
                return;
              auto why = from_caf_error(err);
              // A claimed task that cannot even load its plan now (database away) is not at
              // fault: it goes back to the queue rather than failing.
              if (self->state.mode == pipeline_mode::run_claimed &&
                  why.code == error_code::database_unavailable)
                return release_claim(self, std::move(why));
              fail(self, std::move(why));
            }));

  return {
      metered(st.meter, false, [self](deadline_atom) { on_deadline(self); }),
      metered(st.meter, false,
              [self](retry_atom) {
                if (auto write = std::move(self->state.retry_write))
                  write();
              }),
  };
}

} // namespace

void spawn_pipeline(caf::actor_system& sys, services_ptr services, process_request request,
                    answer_ptr<task_answer> reply, std::unique_ptr<running_pipeline> running) {
  // CAF copies spawn arguments; a move-only token travels inside a shared_ptr.
  auto token = std::make_shared<std::unique_ptr<running_pipeline>>(std::move(running));
  sys.spawn(pipeline, std::move(services), std::move(request), std::move(reply), task_claim{},
            token);
}

void spawn_claimed_pipeline(caf::actor_system& sys, services_ptr services, process_request request,
                            task_claim claim, answer_ptr<task_answer> reply,
                            std::unique_ptr<running_pipeline> running) {
  request.async = false;
  auto token = std::make_shared<std::unique_ptr<running_pipeline>>(std::move(running));
  sys.spawn(pipeline, std::move(services), std::move(request), std::move(reply), claim, token);
}

} // namespace imgproc
