#include "actors/cluster/job_runner_actor.hpp"

#include "actors/metered.hpp"
#include "core/dry_run.hpp"
#include "core/task_json.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>
#include <malloc.h>

namespace imgproc {
namespace {

struct job_runner_state {
  static inline const char* name = "job_runner";
  pools_ptr pools;
  std::string node_name;
  local_job job;
  caf::typed_response_promise<node_result> promise;
  load_ptr jobs; ///< the node's running jobs, counted down when the runner ends
  meter_ptr meter;
  /// The job holds more than glibc maps on its own (main.cpp sets the threshold for speed): what
  /// it freed stays in the heaps unless given back when it ends.
  bool give_memory_back = false;

  job_runner_state() = default;
  job_runner_state(const job_runner_state&) = delete;
  job_runner_state& operator=(const job_runner_state&) = delete;
  ~job_runner_state() {
    if (jobs)
      jobs->done();
  }
};

using pointer = job_runner_actor::stateful_pointer<job_runner_state>;

std::chrono::milliseconds time_left(pointer self) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      self->state.job.data->deadline - std::chrono::steady_clock::now());
  return std::max(left, std::chrono::milliseconds(1));
}

/// "step 2 (resize)" or, for a run of steps, "steps 1-5 (decode_jpeg, ..., base64)".
std::string steps_name(const pipeline_plan& plan, std::size_t first, std::size_t end) {
  if (end - first == 1)
    return step_name(plan, first);
  std::string name = "steps " + std::to_string(first + 1) + "-" + std::to_string(end) + " (";
  for (std::size_t index = first; index < end; ++index)
    name += (index == first ? "" : ", ") + plan.steps[index].kind->handler;
  return name + ")";
}

/// Where the run of steps starting at `first` ends: the next step that another pool runs.
std::size_t run_end(stage_pools& pools, const pipeline_plan& plan, std::size_t first,
                    bool dry_run) {
  auto* pool = &pools.pool_for(plan.steps[first].kind->stage, dry_run);
  std::size_t end = first + 1;
  while (end < plan.steps.size() && &pools.pool_for(plan.steps[end].kind->stage, dry_run) == pool)
    ++end;
  return end;
}

/// Ends the runner; after a large job, gives the freed memory back to the system (malloc_trim
/// returns the free pages inside every thread's heap, which glibc keeps otherwise).
void end_job(pointer self) {
  auto& st = self->state;
  st.job.data.reset();
  if (st.give_memory_back)
    malloc_trim(0);
  self->quit();
}

/// Bytes above which a job's memory is given back when it ends (glibc's mmap threshold, set in
/// app/main.cpp): free chunks smaller than that stay inside the heaps otherwise.
constexpr std::uint64_t trim_above_bytes = 16ull << 20;

void run_step(pointer self, std::size_t index) {
  auto& st = self->state;
  const auto& plan = *st.job.plan;
  if (index == plan.steps.size()) {
    const auto& data = *st.job.data;
    node_result result;
    result.status = result_status(data);
    result.data = std::make_shared<const nlohmann::json>(output_json(data));
    result.node = st.node_name;
    if (data.trace)
      result.trace_json = to_text(data.trace->steps);
    st.promise.deliver(std::move(result));
    end_job(self);
    return;
  }
  // Consecutive steps of one pool (decode and the transforms after it) go as one message: one
  // hop for the whole run, which the worker does back to back on its thread.
  // A dry run (it records a trace) runs its detectors on the dry-run detectors.
  bool dry_run = st.job.data->trace != nullptr;
  std::size_t end = run_end(*st.pools, plan, index, dry_run);
  auto& pool = st.pools->pool_for(plan.steps[index].kind->stage, dry_run);
  auto timeout = time_left(self); // before the payload moves into the job
  stage_job job{st.job.plan, index, std::move(st.job.data), end - index};
  self->request(pool.pick(), timeout, run_atom::value, std::move(job))
      .then(metered(self->state.meter, false,
                    [self, end](payload_ptr& out) {
                      self->state.job.data = std::move(out);
                      run_step(self, end);
                    }),
            metered(self->state.meter, false, [self, index, end](caf::error& err) {
              if (err.category() != error_category && err != caf::sec::request_timeout) {
                // Not the step's failure but this node's (a stage actor gone while the node shuts
                // down): passed on as CAF's error, so the dispatcher sends the job elsewhere.
                self->state.promise.deliver(std::move(err));
                end_job(self);
                return;
              }
              if (err == caf::sec::request_timeout) {
                // The stage names a step that fails; a timeout here names the whole run.
                auto f = make_failure(error_code::deadline_exceeded,
                                      "the request ran out of time during " +
                                          steps_name(*self->state.job.plan, index, end));
                self->state.promise.deliver(to_caf_error(f));
              } else {
                self->state.promise.deliver(std::move(err));
              }
              end_job(self);
            }));
}

job_runner_actor::behavior_type job_runner(pointer self, pools_ptr pools, std::string node_name,
                                           load_ptr jobs, meter_ptr meter) {
  self->state.jobs = std::move(jobs);
  self->state.meter = std::move(meter);
  count_running(self, self->state.meter);
  self->state.pools = std::move(pools);
  self->state.node_name = std::move(node_name);
  return {
      metered(self->state.meter, true,
              [self](run_atom, local_job& job) -> caf::typed_response_promise<node_result> {
                auto& st = self->state;
                st.promise = self->make_response_promise<node_result>();
                if (!job.plan || !job.data || job.plan->steps.empty()) {
                  st.promise.deliver(
                      to_caf_error(make_failure(error_code::internal, "malformed job")));
                  end_job(self);
                  return st.promise;
                }
                st.job = std::move(job);
                // This node's own limits, before any work: a gateway with other settings (or
                // none: a job sent by an older one) must not make it run more than they allow.
                auto estimate = plan_budget(*st.job.plan, st.job.data->bytes, st.pools->budget);
                if (!estimate) {
                  st.promise.deliver(to_caf_error(estimate.error()));
                  end_job(self);
                  return st.promise;
                }
                st.give_memory_back = estimate->peak_bytes > trim_above_bytes;
                run_step(self, 0);
                return st.promise;
              }),
  };
}

} // namespace

job_runner_actor spawn_job_runner(caf::actor_system& sys, pools_ptr pools, std::string node_name,
                                  load_ptr jobs, meter_ptr meter) {
  jobs->add();
  return sys.spawn(job_runner, std::move(pools), std::move(node_name), std::move(jobs),
                   std::move(meter));
}

} // namespace imgproc
