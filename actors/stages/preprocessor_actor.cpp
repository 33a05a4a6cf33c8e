#include "actors/stages/preprocessor_actor.hpp"

namespace imgproc {

stage_actor spawn_preprocessor(caf::actor_system& sys, load_ptr load) {
  return spawn_stage(
      sys, stage_kind::transform, "preprocessor",
      [] {
        auto images = std::make_shared<preprocessor>();
        stage_tools tools;
        tools.resources.images = images.get();
        tools.owner = std::move(images);
        return tools;
      },
      std::move(load), false);
}

} // namespace imgproc
