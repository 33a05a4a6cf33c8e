#pragma once

// The stage actors of one node (decoders, preprocessors, detector clients), shared by every job
// that runs on it. Built once at start-up and read-only afterwards; the pools' load counters are
// atomic, so job runners on any scheduler thread may pick a worker.

#include "actors/stages/stage_actor.hpp"
#include "actors/stages/worker_pool.hpp"
#include "core/detector_client.hpp"
#include "core/jpeg_decoder.hpp"

#include <caf/fwd.hpp>
#include <cstddef>
#include <memory>

namespace imgproc {

struct stage_settings {
  std::size_t decoders = 2;          ///< decoder actors (scheduler threads)
  std::size_t preprocessors = 2;     ///< preprocessor actors (scheduler threads)
  std::size_t detector_clients = 16; ///< detached ML clients = concurrent ML calls
  detector_settings detector;
  jpeg_decoder_settings decoder;
};

struct stage_pools {
  worker_pool<stage_actor> decoders;
  worker_pool<stage_actor> preprocessors;
  worker_pool<stage_actor> detectors;

  worker_pool<stage_actor>& pool_for(stage_kind stage) {
    switch (stage) {
      case stage_kind::decode:
        return decoders;
      case stage_kind::transform:
        return preprocessors;
      case stage_kind::detect:
        return detectors;
    }
    return preprocessors;
  }
};

using pools_ptr = std::shared_ptr<stage_pools>;

pools_ptr spawn_stage_pools(caf::actor_system& sys, const stage_settings& settings);

/// Asks every stage actor to exit. Detached actors end once their last handle is dropped too.
void stop_stage_pools(stage_pools& pools);

} // namespace imgproc
