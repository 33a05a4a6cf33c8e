#include "actors/stages/decoder_actor.hpp"

namespace imgproc {

stage_actor spawn_decoder(caf::actor_system& sys, jpeg_decoder_settings settings, load_ptr load) {
  return spawn_stage(
      sys, stage_kind::decode, "decoder",
      [settings] {
        auto decoder = std::make_shared<jpeg_decoder>(settings);
        stage_tools tools;
        tools.resources.decoder = decoder.get();
        tools.owner = std::move(decoder);
        return tools;
      },
      std::move(load), false);
}

} // namespace imgproc
