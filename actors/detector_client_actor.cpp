#include "actors/detector_client_actor.hpp"

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
  return {
      [self](run_atom, stage_job& job) -> caf::result<payload_ptr> {
        job_scope scope{*self->state.load};
        return run_stage_job(stage_kind::detect, self->state.resources, job);
      },
  };
}

} // namespace

stage_actor spawn_detector_client(caf::actor_system& sys, detector_settings settings,
                                  load_ptr load) {
  return sys.spawn<caf::detached>(detector_client_behavior, std::move(settings), std::move(load));
}

} // namespace imgproc
