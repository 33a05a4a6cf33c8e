#include "actors/stages/stage_actor.hpp"

#include "actors/metered.hpp"
#include "core/dry_run.hpp"

#include <caf/actor_system.hpp>
#include <caf/spawn_options.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <chrono>
#include <exception>

namespace imgproc {

std::string step_name(const pipeline_plan& plan, std::size_t index) {
  return "step " + std::to_string(index + 1) + " (" + plan.steps[index].kind->handler + ")";
}

namespace {

/// Runs one step; its failure names the step.
status run_one_step(const pipeline_plan& plan, std::size_t index, stage_resources& resources,
                    payload& data) {
  const auto& step = plan.steps[index];
  auto named = [&](error_code code, const std::string& detail) {
    return make_failure(code, step_name(plan, index) + ": " + detail);
  };
  if (auto stop = data.stop(); stop.due()) {
    // The requester has answered 504, or nobody waits for the answer: do not spend a core or an
    // ML call on it.
    auto why = stop.reason("before this step");
    return named(why.code, why.detail);
  }
  try {
    cv::Mat before = data.trace ? data.image : cv::Mat{}; // shared, not copied
    auto start = std::chrono::steady_clock::now();
    auto err = step.run(resources, data);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (auto* metrics = process_metrics())
      metrics->step_duration(step.kind->handler, seconds);
    if (err)
      return named(err->code, err->detail);
    if (data.trace)
      record_step(*data.trace, plan, index, before, data, seconds);
    return std::nullopt;
  } catch (const std::exception& e) {
    return named(error_code::internal, std::string{"threw: "} + e.what());
  } catch (...) {
    return named(error_code::internal, "threw");
  }
}

} // namespace

result<payload_ptr> run_stage_steps(stage_set accepted, stage_resources& resources,
                                    stage_job& job) {
  if (!job.plan || !job.data || job.step_count == 0 ||
      job.step_index + job.step_count > job.plan->steps.size())
    return make_failure(error_code::internal, "malformed stage job");
  const auto& plan = *job.plan;
  std::size_t end = job.step_index + job.step_count;
  for (std::size_t index = job.step_index; index < end; ++index)
    if (!accepted.contains(plan.steps[index].kind->stage))
      return make_failure(error_code::internal,
                          step_name(plan, index) + ": sent to the wrong stage");
  for (std::size_t index = job.step_index; index < end; ++index)
    if (auto err = run_one_step(plan, index, resources, *job.data))
      return std::move(*err);
  return std::move(job.data);
}

namespace {

struct stage_state {
  static inline const char* name = "stage";
  stage_tools tools;
  load_ptr load;
};

stage_actor::behavior_type stage_behavior(stage_actor::stateful_pointer<stage_state> self,
                                          stage_set stages, const char* name,
                                          std::function<stage_tools()> make_tools, load_ptr load) {
  self->state.tools = make_tools();
  self->state.load = std::move(load);
  auto meter = actor_meter_for(name);
  count_running(self, meter);
  return {
      metered(
          meter, true,
          [self, stages](run_atom, stage_job& job) -> caf::result<payload_ptr> {
            job_scope scope{*self->state.load};
            auto start = std::chrono::steady_clock::now();
            auto outcome = run_stage_steps(stages, self->state.tools.resources, job);
            if (stages.contains(stage_kind::detect))
              if (auto* metrics = process_metrics())
                metrics->ml_call(
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                    outcome.ok());
            if (!outcome)
              return to_caf_error(outcome.error());
            return std::move(outcome.value());
          }),
  };
}

} // namespace

stage_actor spawn_stage(caf::actor_system& sys, stage_set stages, const char* name,
                        std::function<stage_tools()> make_tools, load_ptr load, bool detached) {
  if (detached)
    return sys.spawn<caf::detached>(stage_behavior, stages, name, std::move(make_tools),
                                    std::move(load));
  return sys.spawn(stage_behavior, stages, name, std::move(make_tools), std::move(load));
}

} // namespace imgproc
