#include "actors/stages/preprocessor_actor.hpp"

#include "actors/metered.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace imgproc {
namespace {

stage_actor::behavior_type
preprocessor_behavior(stage_actor::stateful_pointer<preprocessor_state> self, load_ptr load) {
  self->state.resources.images = &self->state.images;
  self->state.load = std::move(load);
  auto meter = actor_meter_for("preprocessor");
  count_running(self, meter);
  return {
      metered(meter, true,
              [self](run_atom, stage_job& job) -> caf::result<payload_ptr> {
                job_scope scope{*self->state.load};
                return run_stage_job(stage_kind::transform, self->state.resources, job);
              }),
  };
}

} // namespace

stage_actor spawn_preprocessor(caf::actor_system& sys, load_ptr load) {
  return sys.spawn(preprocessor_behavior, std::move(load));
}

} // namespace imgproc
