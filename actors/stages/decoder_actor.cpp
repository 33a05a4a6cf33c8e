#include "actors/stages/decoder_actor.hpp"

#include "actors/metered.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace imgproc {
namespace {

stage_actor::behavior_type decoder(stage_actor::stateful_pointer<decoder_state> self,
                                   jpeg_decoder_settings settings, load_ptr load) {
  self->state.decoder = jpeg_decoder{settings};
  self->state.resources.decoder = &self->state.decoder;
  self->state.load = std::move(load);
  auto meter = actor_meter_for("decoder");
  count_running(self, meter);
  return {
      metered(meter, true,
              [self](run_atom, stage_job& job) -> caf::result<payload_ptr> {
                job_scope scope{*self->state.load};
                return run_stage_job(stage_kind::decode, self->state.resources, job);
              }),
  };
}

} // namespace

stage_actor spawn_decoder(caf::actor_system& sys, jpeg_decoder_settings settings, load_ptr load) {
  return sys.spawn(decoder, settings, std::move(load));
}

} // namespace imgproc
