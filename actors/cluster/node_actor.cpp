#include "actors/cluster/node_actor.hpp"

#include "actors/cluster/job_runner_actor.hpp"
#include "actors/metered.hpp"
#include "core/dry_run.hpp"
#include "core/plan_cache.hpp"

#include <caf/actor_system.hpp>
#include <caf/sec.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace imgproc {
namespace {

struct node_state {
  static inline const char* name = "node";
  pools_ptr pools;
  std::unique_ptr<plan_cache> plans;
  std::string node_name;
  load_ptr running_jobs;
  bool leaving = false;
  meter_ptr runner_meter = actor_meter_for("job_runner");
};

using pointer = node_actor::stateful_pointer<node_state>;

node_actor::behavior_type node(pointer self, pools_ptr pools,
                               std::shared_ptr<const step_registry> registry, std::string node_name,
                               load_ptr running_jobs) {
  auto& st = self->state;
  st.pools = std::move(pools);
  st.plans = std::make_unique<plan_cache>(std::move(registry));
  st.node_name = std::move(node_name);
  st.running_jobs = std::move(running_jobs);
  auto meter = actor_meter_for("node");
  count_running(self, meter);
  return {
      metered(meter, false,
              [self](leave_atom) {
                self->state.leaving = true;
                return true;
              }),
      metered(meter, false,
              [self](run_atom, node_job& job) -> caf::result<node_result> {
                auto& st = self->state;
                if (st.leaving) // a job sent before the gateway heard we leave: it goes elsewhere
                  return caf::make_error(caf::sec::request_receiver_down);
                if (job.time_left_ms <= 0)
                  return to_caf_error(make_failure(
                      error_code::deadline_exceeded,
                      "the request ran out of time before it reached " + st.node_name));
                // A job from this very process brings its plan; one from a gateway elsewhere is
                // planned here, once per pipeline version.
                auto plan =
                    job.plan ? result<plan_ptr>{job.plan}
                             : st.plans->get(job.pipeline_id, job.pipeline_version, job.steps_json);
                if (!plan)
                  return to_caf_error(plan.error());
                auto data = std::make_shared<payload>();
                data->kind = value_kind::jpeg_bytes;
                data->bytes = job.image.view;
                data->owner = std::move(job.image.owner);
                data->deadline =
                    std::chrono::steady_clock::now() + std::chrono::milliseconds(job.time_left_ms);
                data->client_gone = std::move(job.client_gone);
                data->work_slot = std::move(job.work_slot);
                if (job.trace)
                  data->trace = std::make_shared<dry_run_trace>();
                try {
                  auto runner = spawn_job_runner(self->system(), st.pools, st.node_name,
                                                 st.running_jobs, st.runner_meter);
                  st.runner_meter->sent();
                  return self->delegate(runner, run_atom::value,
                                        local_job{std::move(plan.value()), data});
                } catch (const std::exception& e) {
                  return to_caf_error(make_failure(
                      error_code::internal, std::string{"cannot start the job: "} + e.what()));
                }
              }),
  };
}

} // namespace

node_actor spawn_node(caf::actor_system& sys, pools_ptr pools,
                      std::shared_ptr<const step_registry> registry, std::string node_name,
                      load_ptr running_jobs) {
  return sys.spawn(node, std::move(pools), std::move(registry), std::move(node_name),
                   std::move(running_jobs));
}

} // namespace imgproc
