#include "actors/stages/stage_actor.hpp"

#include "actors/metered.hpp"

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

} // namespace imgproc
