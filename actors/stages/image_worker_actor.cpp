#include "actors/stages/image_worker_actor.hpp"

#include "core/preprocessor.hpp"

namespace imgproc {
namespace {

/// What an image worker owns: a decoder (with its reused buffers) and the preprocessor.
struct image_tools {
  explicit image_tools(jpeg_decoder_settings settings) : decoder(std::move(settings)) {}
  jpeg_decoder decoder;
  preprocessor images;
};

} // namespace

stage_actor spawn_image_worker(caf::actor_system& sys, jpeg_decoder_settings settings,
                               load_ptr load) {
  return spawn_stage(
      sys, {stage_kind::decode, stage_kind::transform}, "image_worker",
      [settings] {
        auto tools = std::make_shared<image_tools>(settings);
        stage_tools owned;
        owned.resources.decoder = &tools->decoder;
        owned.resources.images = &tools->images;
        owned.owner = std::move(tools);
        return owned;
      },
      std::move(load), false);
}

} // namespace imgproc
