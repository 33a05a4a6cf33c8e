#include "actors/stages/stage_pools.hpp"

#include "actors/metered.hpp"
#include "actors/stages/detector_client_actor.hpp"
#include "actors/stages/image_worker_actor.hpp"
#include "actors/stages/local_detector_actor.hpp"

#include <algorithm>
#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

namespace imgproc {

pools_ptr spawn_stage_pools(caf::actor_system& sys, const stage_settings& settings) {
  auto pools = std::make_shared<stage_pools>();
  pools->budget = settings.budget;
  pools->images.set_meter(actor_meter_for("image_worker"));
  pools->detectors.set_meter(actor_meter_for("detector_client"));
  pools->local_detectors.set_meter(actor_meter_for("local_detector"));
  for (std::size_t i = 0; i < settings.image_workers; ++i) {
    auto load = std::make_shared<load_counter>();
    pools->images.add(spawn_image_worker(sys, settings.decoder, load), load);
  }
  for (std::size_t i = 0; i < settings.detector_clients; ++i) {
    auto load = std::make_shared<load_counter>();
    pools->detectors.add(spawn_detector_client(sys, settings.detector, load), load);
  }
  // One listing of the cascade folder for the node; each detector builds its own classifiers.
  auto cascades = settings.cascades ? settings.cascades
                                    : std::make_shared<const cascade_library>(settings.cascade_dir);
  for (std::size_t i = 0; i < std::max<std::size_t>(settings.local_detectors, 1); ++i) {
    auto load = std::make_shared<load_counter>();
    pools->local_detectors.add(spawn_local_detector(sys, load, cascades), load);
  }
  pools->dry_run_detectors.set_meter(actor_meter_for("dry_run_detector"));
  for (std::size_t i = 0; i < std::max<std::size_t>(settings.dry_run_detectors, 1); ++i) {
    auto load = std::make_shared<load_counter>();
    pools->dry_run_detectors.add(spawn_local_detector(sys, load, cascades, "dry_run_detector"),
                                 load);
  }
  return pools;
}

void stop_stage_pools(stage_pools& pools) {
  for (auto* pool :
       {&pools.images, &pools.detectors, &pools.local_detectors, &pools.dry_run_detectors})
    for (const auto& worker : pool->workers())
      caf::anon_send_exit(worker, caf::exit_reason::user_shutdown);
}

} // namespace imgproc
