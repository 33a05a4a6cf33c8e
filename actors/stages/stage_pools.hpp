#pragma once

// The stage actors of one node (image workers, detector clients, local detectors), shared by every
// job that runs on it. Built once at start-up and read-only afterwards; the pools' load counters
// are atomic, so job runners on any scheduler thread may pick a worker.

#include "actors/stages/stage_actor.hpp"
#include "actors/worker_pool.hpp"
#include "core/detector_client.hpp"
#include "core/jpeg_decoder.hpp"
#include "core/object_detectors.hpp"
#include "core/request_budget.hpp"

#include <caf/fwd.hpp>
#include <cstddef>
#include <memory>
#include <string>

namespace imgproc {

struct stage_settings {
  std::size_t image_workers = 2;     ///< image worker actors (scheduler threads)
  std::size_t detector_clients = 16; ///< detached ML clients = concurrent ML calls
  std::size_t local_detectors = 2;   ///< detached local detector actors (HOG, cascades)
  /// Local detector actors of their own for dry runs: a dry run never waits for, nor holds up,
  /// the detectors production requests use.
  std::size_t dry_run_detectors = 1;
  /// The folder whose haarcascades/ and lbpcascades/ hold the cascades detect_cascade offers.
  std::string cascade_dir = default_cascade_root;
  /// The cascades listed from cascade_dir, when the process already listed them for its step
  /// registry (one listing, so the registry offers exactly what the detectors have); null: the
  /// pools list cascade_dir themselves.
  std::shared_ptr<const cascade_library> cascades;
  detector_settings detector;
  jpeg_decoder_settings decoder;
  /// What one request may cost (checked before its work starts, by the gateway and again here).
  budget_limits budget;
};

struct stage_pools {
  worker_pool<stage_actor> images; ///< decode and transform steps
  worker_pool<stage_actor> detectors;
  worker_pool<stage_actor> local_detectors;   ///< local_detect steps
  worker_pool<stage_actor> dry_run_detectors; ///< local_detect steps of dry runs
  budget_limits budget; ///< this node's own limits, checked again when a job arrives

  worker_pool<stage_actor>& pool_for(stage_kind stage, bool dry_run = false) {
    switch (stage) {
      case stage_kind::detect:
        return detectors;
      case stage_kind::local_detect:
        return dry_run ? dry_run_detectors : local_detectors;
      default:
        return images;
    }
  }
};

using pools_ptr = std::shared_ptr<stage_pools>;

pools_ptr spawn_stage_pools(caf::actor_system& sys, const stage_settings& settings);

/// Asks every stage actor to exit. Detached actors end once their last handle is dropped too.
void stop_stage_pools(stage_pools& pools);

} // namespace imgproc
