#include "actors/stages/preprocessor_actor.hpp"

namespace imgproc {

stage_actor spawn_preprocessor(caf::actor_system& sys, load_ptr load) {
  return spawn_stage(
      sys, stage_kind::transform, "preprocessor",
      [] { return owning<preprocessor>(&stage_resources::images); }, std::move(load), false);
}

} // namespace imgproc
