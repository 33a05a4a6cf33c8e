#include "actors/stages/detector_client_actor.hpp"

namespace imgproc {

stage_actor spawn_detector_client(caf::actor_system& sys, detector_settings settings,
                                  load_ptr load) {
  return spawn_stage(
      sys, stage_kind::detect, "detector_client",
      [settings = std::move(settings)] {
        auto client = std::make_shared<detector_client>(settings);
        stage_tools tools;
        tools.resources.detector = client.get();
        tools.owner = std::move(client);
        return tools;
      },
      std::move(load), true);
}

} // namespace imgproc
