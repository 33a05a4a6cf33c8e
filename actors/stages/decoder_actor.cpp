#include "actors/stages/decoder_actor.hpp"

namespace imgproc {

stage_actor spawn_decoder(caf::actor_system& sys, jpeg_decoder_settings settings, load_ptr load) {
  return spawn_stage(
      sys, stage_kind::decode, "decoder",
      [settings] { return owning<jpeg_decoder>(&stage_resources::decoder, settings); },
      std::move(load), false);
}

} // namespace imgproc
