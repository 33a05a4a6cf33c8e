#pragma once

// Local detector: runs a job's local_detect steps (detect_people, detect_cascade) with its own
// object_detectors (core/object_detectors), which are not thread-safe and so belong to one actor.
//
///   receives: (run_atom, stage_job) for steps of stage_kind::local_detect
///   answers:  the payload with its boxes (value_kind::detections)
///   fails:    the step's error, its detail prefixed "step N (handler): "
//
// Detached: one detection holds a core for tens of milliseconds, which on CAF's scheduler would
// hold up every other actor sharing the thread (HTTP answers, health checks). Each detection is
// timed per detector in imgproc_local_detector_duration_seconds{detector}.

#include "actors/stages/stage_actor.hpp"
#include "core/object_detectors.hpp"

#include <caf/fwd.hpp>
#include <memory>

namespace imgproc {

/// `cascades` are the Haar and LBP cascades detect_cascade may use (shared by a node's detectors;
/// each actor builds its own classifiers from them). `name` is the actor kind in the metrics:
/// "local_detector", or "dry_run_detector" for the detectors that only dry runs use.
stage_actor spawn_local_detector(caf::actor_system& sys, load_ptr load,
                                 std::shared_ptr<const cascade_library> cascades,
                                 const char* name = "local_detector");

} // namespace imgproc
