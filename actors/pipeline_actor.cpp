#include "actors/pipeline_actor.hpp"

#include "actors/node_protocol.hpp"
#include "common/log.hpp"
#include "core/task_json.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
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
void answer(pointer self, http_reply reply) {
  if (self->state.answered)
    return;
  self->state.answered = true;
  reply.node = self->state.node;
  self->state.reply->send(std::move(reply));
}

void answer_failure(pointer self, const failure& f) {
  if (self->state.answered)
    return;
  int status = http_status(f.code);
  std::string what = "request " + self->state.request.request_id + ", " + describe(self) + ": " +
                     std::to_string(status) + " " + to_string(f.code) + ": " + f.detail;
  // Server-side failures are warnings; a client's bad image is routine.
  if (status >= 500)
    log::warning("pipeline", what);
  else
    log::info("pipeline", what);
  answer(self, failure_reply(f));
}

/// Marks the row failed, answers the client (unless it already has its answer) and ends.
void store_failure_and_quit(pointer self, failure f) {
  self->state.phase = pipeline_phase::storing;
  if (auto* metrics = process_metrics())
    metrics->task_finished(self->state.request.pipeline_id, "failed");
  task_failure row{self->state.task_id, std::string{to_string(f.code)} + ": " + f.detail};
  self->request(self->state.services->persistence.pick(), self->state.services->db_timeout,
                fail_atom::value, std::move(row))
      .then(metered(self->state.meter, false,
                    [self, f](bool) {
                      answer_failure(self, f);
                      self->quit();
                    }),
            metered(self->state.meter, false, [self, f](caf::error& err) {
              log::warning("pipeline", describe(self) + ": the row could not be marked failed: " +
                                           from_caf_error(err).detail);
              answer_failure(self, f);
              self->quit();
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

void finish(pointer self, node_result result) {
  self->state.phase = pipeline_phase::storing;
  self->state.node = result.node;
  auto data = nlohmann::json::parse(result.data_json, nullptr, false);
  if (data.is_discarded()) {
    fail(self,
         make_failure(error_code::internal, "node " + result.node + " answered malformed JSON"));
    return;
  }
  std::string status = std::move(result.status);
  task_outcome outcome{self->state.task_id, status, data};
  self->request(self->state.services->persistence.pick(), self->state.services->db_timeout,
                finish_atom::value, std::move(outcome))
      .then(metered(self->state.meter, false,
                    [self, status, data](bool stored) {
                      if (stored) {
                        if (auto* metrics = process_metrics())
                          metrics->task_finished(self->state.request.pipeline_id, status);
                        const auto& req = self->state.request;
                        auto body = task_response(self->state.task_id, req.pipeline_id, status,
                                                  req.filename, data);
                        answer(self, {200, to_text(body), {}});
                      } else {
                        // Another process already closed the row (e.g. its start-up sweep marked it
                        // failed): the result is not what is stored, so it is not returned.
                        answer_failure(
                            self, make_failure(error_code::internal,
                                               "task " + std::to_string(self->state.task_id) +
                                                   " was closed elsewhere; result not stored"));
                      }
                      self->quit();
                    }),
            metered(self->state.meter, false, [self](caf::error& err) {
              // The result was not stored, so it must not be returned as if it were.
              answer_failure(self, make_failure(error_code::database_unavailable,
                                                "the result could not be stored: " +
                                                    from_caf_error(err).detail));
              self->quit();
            }));
}

/// Hands the image work to the dispatcher, which runs every step on one node (this process's own
/// or a worker's) and answers the outcome.
void run_steps(pointer self) {
  auto& st = self->state;
  node_job job;
  job.task_id = st.task_id;
  job.pipeline_id = st.plan->id;
  job.pipeline_version = st.plan->version;
  job.steps_json = st.plan->steps_json;
  job.image = shared_bytes{st.request.owner, st.request.image};
  job.time_left_ms = time_left(self).count();
  // The dispatcher answers by the deadline plus a 250 ms grace; this timeout is a backstop that
  // still leaves the final row write time before RESTinio's own limit (app/settings.cpp).
  if (st.services->dispatcher_meter)
    st.services->dispatcher_meter->sent();
  self->request(st.services->dispatcher, time_left(self) + std::chrono::seconds(1), run_atom::value,
                std::move(job))
      .then(metered(self->state.meter, false,
                    [self](node_result& result) { finish(self, std::move(result)); }),
            metered(self->state.meter, false,
                    [self](caf::error& err) { fail(self, from_caf_error(err)); }));
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
                    else {
                      self->state.phase = pipeline_phase::running;
                      run_steps(self);
                    }
                  }),
          metered(self->state.meter, false,
                  [self](caf::error& err) { fail(self, from_caf_error(err)); }));
}

void on_deadline(pointer self) {
  auto& st = self->state;
  if (st.answered)
    return;
  switch (st.phase) {
    case pipeline_phase::loading:
      answer_failure(self, make_failure(error_code::deadline_exceeded,
                                        "the request ran out of time loading the pipeline"));
      self->quit();
      break;
    case pipeline_phase::creating:
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
                       reply_ptr reply,
                       std::shared_ptr<std::unique_ptr<running_pipeline>> running) {
  auto& st = self->state;
  st.meter = services->pipeline_meter ? services->pipeline_meter : actor_meter_for("pipeline");
  count_running(self, st.meter);
  st.running = std::move(*running);
  st.services = std::move(services);
  st.request = std::move(request);
  st.reply = std::move(reply);
  self->delayed_send(self, time_left(self), deadline_atom::value);
  self->request(st.services->catalog, time_left(self), get_atom::value, st.request.pipeline_id)
      .then(metered(self->state.meter, false,
                    [self](plan_ptr& plan) {
                      self->state.plan = std::move(plan);
                      create_task(self);
                    }),
            metered(self->state.meter, false,
                    [self](caf::error& err) { fail(self, from_caf_error(err)); }));

  return {
      metered(st.meter, false, [self](deadline_atom) { on_deadline(self); }),
  };
}

} // namespace

void spawn_pipeline(caf::actor_system& sys, services_ptr services, process_request request,
                    reply_ptr reply, std::unique_ptr<running_pipeline> running) {
  // CAF copies spawn arguments; a move-only token travels inside a shared_ptr.
  auto token = std::make_shared<std::unique_ptr<running_pipeline>>(std::move(running));
  sys.spawn(pipeline, std::move(services), std::move(request), std::move(reply), token);
}

} // namespace imgproc
