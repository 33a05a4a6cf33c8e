#include "actors/stages/detector_client_actor.hpp"

#include "actors/metered.hpp"

#include <caf/actor_system.hpp>
#include <caf/spawn_options.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace imgproc {
namespace {

stage_actor::behavior_type
detector_client_behavior(stage_actor::stateful_pointer<detector_client_state> self,
                         detector_settings settings, load_ptr load) {
  self->state.client = std::make_unique<detector_client>(std::move(settings));
  self->state.resources.detector = self->state.client.get();
  self->state.load = std::move(load);
  auto meter = actor_meter_for("detector_client");
  count_running(self, meter);
  return {
      metered(
          meter, true,
          [self](run_atom, stage_job& job) -> caf::result<payload_ptr> {
            job_scope scope{*self->state.load};
            auto start = std::chrono::steady_clock::now();
            auto result = run_stage_job(stage_kind::detect, self->state.resources, job);
            if (auto* metrics = process_metrics())
              metrics->ml_call(
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                  result.flag != caf::rt_error);
            return result;
          }),
  };
}

} // namespace

stage_actor spawn_detector_client(caf::actor_system& sys, detector_settings settings,
                                  load_ptr load) {
  return sys.spawn<caf::detached>(detector_client_behavior, std::move(settings), std::move(load));
}

} // namespace imgproc
