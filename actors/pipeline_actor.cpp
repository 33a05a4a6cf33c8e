#include "actors/pipeline_actor.hpp"

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

void answer(pointer self, http_reply reply) {
  if (self->state.finished)
    return;
  self->state.finished = true;
  self->state.reply->send(std::move(reply));
  self->quit();
}

void answer_failure(pointer self, const failure& f) {
  if (self->state.finished)
    return;
  int status = http_status(f.code);
  std::string what = "pipeline " + std::to_string(self->state.request.pipeline_id) +
                     (self->state.task_id ? ", task " + std::to_string(self->state.task_id) : "") +
                     ": " + std::to_string(status) + " " + to_string(f.code) + ": " + f.detail;
  // Server-side failures are warnings; a client's bad image is routine.
  if (status >= 500)
    log::warning("pipeline", what);
  else
    log::info("pipeline", what);
  answer(self, {status, to_text(error_body(f.detail)), {}});
}

/// Stores the failure on the task row (if there is one), then answers it.
void fail(pointer self, failure f) {
  if (self->state.finished)
    return;
  if (self->state.task_id == 0) {
    answer_failure(self, f);
    return;
  }
  task_failure row{self->state.task_id, std::string{to_string(f.code)} + ": " + f.detail};
  self->request(self->state.services->persistence.pick(), time_left(self), fail_atom::value,
                std::move(row))
      .then([self, f](bool) { answer_failure(self, f); },
            [self, f](caf::error& err) {
              log::warning("pipeline", "task " + std::to_string(self->state.task_id) +
                                           " could not be marked failed: " +
                                           from_caf_error(err).detail);
              answer_failure(self, f);
            });
}

std::string step_name(pointer self, std::size_t index) {
  return "step " + std::to_string(index + 1) + " (" +
         self->state.plan->steps[index].kind->handler + ")";
}

void finish(pointer self) {
  const auto& found = self->state.data->found;
  std::string status = detection_status(found);
  auto data = detection_json(found);
  task_outcome outcome{self->state.task_id, status, data};
  self->request(self->state.services->persistence.pick(), time_left(self), finish_atom::value,
                std::move(outcome))
      .then(
          [self, status, data](bool) {
            const auto& req = self->state.request;
            auto body = task_response(self->state.task_id, req.pipeline_id, status,
                                      req.filename, data);
            answer(self, {200, to_text(body), {}});
          },
          [self](caf::error& err) {
            // The result was not stored, so it must not be returned as if it were.
            auto f = from_caf_error(err);
            answer_failure(self, make_failure(error_code::database_unavailable,
                                              "the result could not be stored: " + f.detail));
          });
}

void run_step(pointer self, std::size_t index) {
  if (self->state.finished)
    return;
  const auto& steps = self->state.plan->steps;
  if (index == steps.size()) {
    finish(self);
    return;
  }
  self->state.step = index;
  auto& pool = self->state.services->pool_for(steps[index].kind->stage);
  stage_job job{self->state.plan, index, std::move(self->state.data)};
  self->request(pool.pick(), time_left(self), run_atom::value, std::move(job))
      .then(
          [self, index](payload_ptr& out) {
            self->state.data = std::move(out);
            run_step(self, index + 1);
          },
          [self, index](caf::error& err) {
            auto f = from_caf_error(err);
            f.detail = step_name(self, index) + ": " + f.detail;
            fail(self, std::move(f));
          });
}

void create_task(pointer self) {
  new_task task{self->state.request.pipeline_id, self->state.request.filename};
  self->request(self->state.services->persistence.pick(), time_left(self), create_atom::value,
                std::move(task))
      .then(
          [self](std::int64_t id) {
            self->state.task_id = id;
            run_step(self, 0);
          },
          [self](caf::error& err) { fail(self, from_caf_error(err)); });
}

caf::behavior pipeline(pointer self, services_ptr services, process_request request,
                       reply_ptr reply) {
  auto& st = self->state;
  st.services = std::move(services);
  st.request = std::move(request);
  st.reply = std::move(reply);
  st.data = std::make_shared<payload>();
  st.data->kind = value_kind::jpeg_bytes;
  st.data->bytes = st.request.image;
  st.data->owner = st.request.owner;

  self->delayed_send(self, time_left(self), deadline_atom::value);
  self->request(st.services->catalog, time_left(self), get_atom::value, st.request.pipeline_id)
      .then(
          [self](plan_ptr& plan) {
            self->state.plan = std::move(plan);
            create_task(self);
          },
          [self](caf::error& err) { fail(self, from_caf_error(err)); });

  return {
      [self](deadline_atom) {
        if (self->state.finished)
          return;
        std::string where =
            self->state.plan && self->state.task_id != 0 ? " during " + step_name(self, self->state.step)
                                                         : "";
        auto f = make_failure(error_code::deadline_exceeded,
                              "the request ran out of time" + where);
        if (self->state.task_id != 0) // best effort: the answer does not wait for it
          self->send(self->state.services->persistence.pick(), fail_atom::value,
                     task_failure{self->state.task_id, std::string{to_string(f.code)} + ": " +
                                                           f.detail});
        answer_failure(self, f);
      },
  };
}

} // namespace

void spawn_pipeline(caf::actor_system& sys, services_ptr services, process_request request,
                    reply_ptr reply) {
  sys.spawn(pipeline, std::move(services), std::move(request), std::move(reply));
}

} // namespace imgproc
