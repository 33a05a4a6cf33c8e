#pragma once

// Image worker: runs a job's CPU steps (the `decode` and `transform` stages: decode, resize,
// normalize, encode, base64, ...). The job runner sends it each run of consecutive image steps as
// one message, so the five image steps of the car pipeline cost one hop, not five, and run on one
// scheduler thread back to back.
//
///   receives: (run_atom, stage_job) for steps of stage_kind::decode and stage_kind::transform
///   answers:  the payload after the last step of the run (a cv::Mat, bytes or base64 text)
///   fails:    the first failing step's error, its detail prefixed "step N (handler): "
//
// CPU-bound, never blocking: runs on CAF's scheduler threads. A process spawns one per scheduler
// thread so that images are worked on in parallel.

#include "actors/stages/stage_actor.hpp"
#include "core/jpeg_decoder.hpp"

#include <caf/fwd.hpp>

namespace imgproc {

stage_actor spawn_image_worker(caf::actor_system& sys, jpeg_decoder_settings settings,
                               load_ptr load);

} // namespace imgproc
