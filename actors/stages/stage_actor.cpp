#include "actors/stages/stage_actor.hpp"

#include "actors/metered.hpp"

#include <caf/actor_system.hpp>
#include <caf/spawn_options.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <chrono>
#include <exception>

namespace imgproc {

caf::result<payload_ptr> run_stage_job(stage_kind expected, stage_resources& resources,
                                       stage_job& job) {
  if (!job.plan || job.step_index >= job.plan->steps.size() || !job.data)
    return to_caf_error(make_failure(error_code::internal, "malformed stage job"));
  const auto& step = job.plan->steps[job.step_index];
  if (step.kind->stage != expected)
    return to_caf_error(make_failure(error_code::internal,
                                     "step " + step.kind->handler + " sent to the wrong stage"));
  if (std::chrono::steady_clock::now() >= job.data->deadline)
    // The requester has already answered 504: do not spend a core or an ML call on it.
    return to_caf_error(make_failure(error_code::deadline_exceeded,
                                     "the request ran out of time before " + step.kind->handler));
  try {
    auto start = std::chrono::steady_clock::now();
    auto err = step.run(resources, *job.data);
    if (auto* metrics = process_metrics())
      metrics->step_duration(
          step.kind->handler,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (err)
      return to_caf_error(*err);
    return std::move(job.data);
  } catch (const std::exception& e) {
    return to_caf_error(
        make_failure(error_code::internal, "step " + step.kind->handler + " threw: " + e.what()));
  } catch (...) {
    return to_caf_error(
        make_failure(error_code::internal, "step " + step.kind->handler + " threw"));
  }
}

namespace {

struct stage_state {
  static inline const char* name = "stage";
  stage_tools tools;
  load_ptr load;
};

stage_actor::behavior_type stage_behavior(stage_actor::stateful_pointer<stage_state> self,
                                          stage_kind kind, const char* name,
                                          std::function<stage_tools()> make_tools, load_ptr load) {
  self->state.tools = make_tools();
  self->state.load = std::move(load);
  auto meter = actor_meter_for(name);
  count_running(self, meter);
  return {
      metered(
          meter, true,
          [self, kind](run_atom, stage_job& job) -> caf::result<payload_ptr> {
            job_scope scope{*self->state.load};
            auto start = std::chrono::steady_clock::now();
            auto result = run_stage_job(kind, self->state.tools.resources, job);
            if (kind == stage_kind::detect)
              if (auto* metrics = process_metrics())
                metrics->ml_call(
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                    result.flag != caf::rt_error);
            return result;
          }),
  };
}

} // namespace

stage_actor spawn_stage(caf::actor_system& sys, stage_kind kind, const char* name,
                        std::function<stage_tools()> make_tools, load_ptr load, bool detached) {
  if (detached)
    return sys.spawn<caf::detached>(stage_behavior, kind, name, std::move(make_tools),
                                    std::move(load));
  return sys.spawn(stage_behavior, kind, name, std::move(make_tools), std::move(load));
}

} // namespace imgproc
