#include "actors/stages/local_detector_actor.hpp"

#include "actors/metered.hpp"
#include "core/object_detectors.hpp"

namespace imgproc {

stage_actor spawn_local_detector(caf::actor_system& sys, load_ptr load,
                                 std::shared_ptr<const cascade_library> cascades,
                                 const char* name) {
  return spawn_stage(
      sys, {stage_kind::local_detect}, name,
      [cascades = std::move(cascades)] {
        auto tools = owning<object_detectors>(&stage_resources::objects, cascades);
        tools.resources.objects->set_observer(
            [](const std::string& detector, double seconds, std::size_t boxes) {
              if (auto* metrics = process_metrics())
                metrics->local_detection(detector, seconds, boxes);
            });
        return tools;
      },
      std::move(load), true);
}

} // namespace imgproc
