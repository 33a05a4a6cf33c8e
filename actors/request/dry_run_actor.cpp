#include "actors/request/dry_run_actor.hpp"

#include "actors/metered.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

namespace imgproc {
namespace {

struct dry_run_state {
  static inline const char* name = "dry_run";
  std::unique_ptr<running_pipeline> running;
  std::shared_ptr<void> slot;
  services_ptr services;
  dry_run_request request;
  answer_ptr<dry_run_answer> reply;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  bool answered = false;
};

using pointer = caf::stateful_actor<dry_run_state>*;

std::chrono::milliseconds time_left(pointer self) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      self->state.request.deadline - std::chrono::steady_clock::now());
  return std::max(left, std::chrono::milliseconds(1));
}

void finish(pointer self, result<dry_run_answer> outcome) {
  auto& st = self->state;
  if (!st.answered) {
    st.answered = true;
    st.reply->send(std::move(outcome));
  }
  self->quit();
}

dry_run_answer to_answer(pointer self, const pipeline_plan& plan, node_result& result) {
  dry_run_answer out;
  out.pipeline_id = plan.id;
  out.pipeline_version = plan.id == 0 ? 0 : plan.version;
  out.title = plan.title;
  out.status = result.status;
  out.filename = self->state.request.filename;
  out.data = result.output().value_or(nlohmann::json{});
  out.node = result.node;
  auto steps = nlohmann::json::parse(result.trace_json, nullptr, false);
  out.steps = steps.is_array() ? std::move(steps) : nlohmann::json::array();
  out.time_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                          self->state.started)
                    .count();
  return out;
}

void run(pointer self, plan_ptr plan) {
  auto& st = self->state;
  if (st.answered)
    return;
  if (auto estimate = plan_budget(*plan, st.request.image, st.services->budget); !estimate)
    return finish(self, estimate.error());
  node_job job;
  job.pipeline_id = plan->id;
  job.pipeline_version = plan->version;
  job.steps_json = plan->steps_json;
  job.plan = plan;
  job.image = shared_bytes{st.request.owner, st.request.image};
  job.client_gone = st.request.client_gone;
  job.work_slot = st.slot; // the slot is free again when the work has ended, not its answer
  job.time_left_ms = time_left(self).count();
  job.trace = true;
  if (st.services->dispatcher_meter)
    st.services->dispatcher_meter->sent();
  self->request(st.services->dispatcher, time_left(self) + std::chrono::seconds(1), run_atom::value,
                std::move(job))
      .then([self, plan](node_result& result) { finish(self, to_answer(self, *plan, result)); },
            [self](caf::error& err) { finish(self, from_caf_error(err)); });
}

caf::behavior dry_run(pointer self, services_ptr services, dry_run_request request, plan_ptr plan,
                      answer_ptr<dry_run_answer> reply,
                      std::shared_ptr<std::unique_ptr<running_pipeline>> running,
                      std::shared_ptr<void> slot) {
  auto& st = self->state;
  st.running = std::move(*running);
  st.slot = std::move(slot);
  st.services = std::move(services);
  st.request = std::move(request);
  st.reply = std::move(reply);
  self->delayed_send(self, time_left(self), deadline_atom::value);
  if (plan) {
    run(self, std::move(plan));
  } else {
    self->request(st.services->catalog, time_left(self), get_atom::value, st.request.pipeline_id)
        .then([self](plan_ptr& stored) { run(self, std::move(stored)); },
              [self](caf::error& err) { finish(self, from_caf_error(err)); });
  }
  return {
      [self](deadline_atom) {
        // The dispatcher answers by the deadline, naming the step that ran out of time; this
        // is the backstop if it cannot.
        if (!self->state.answered)
          self->delayed_send(self, std::chrono::seconds(1), retry_atom::value);
      },
      [self](retry_atom) {
        finish(self, make_failure(error_code::deadline_exceeded, "the dry run ran out of time"));
      },
  };
}

} // namespace

void spawn_dry_run(caf::actor_system& sys, services_ptr services, dry_run_request request,
                   plan_ptr plan, answer_ptr<dry_run_answer> reply,
                   std::unique_ptr<running_pipeline> running, std::shared_ptr<void> slot) {
  auto token = std::make_shared<std::unique_ptr<running_pipeline>>(std::move(running));
  sys.spawn(dry_run, std::move(services), std::move(request), std::move(plan), std::move(reply),
            token, std::move(slot));
}

} // namespace imgproc
