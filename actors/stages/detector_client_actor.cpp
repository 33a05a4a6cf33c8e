#include "actors/stages/detector_client_actor.hpp"

namespace imgproc {

stage_actor spawn_detector_client(caf::actor_system& sys, detector_settings settings,
                                  load_ptr load) {
  // Detached: the ML call blocks, so each client has its own thread and connection.
  return spawn_stage(
      sys, {stage_kind::detect}, "detector_client",
      [settings = std::move(settings)] {
        return owning<detector_client>(&stage_resources::detector, settings);
      },
      std::move(load), true);
}

} // namespace imgproc
