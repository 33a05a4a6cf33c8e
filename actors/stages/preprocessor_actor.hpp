#pragma once

// Preprocessor: image-to-image and image-to-bytes steps (resize, normalize, encode, base64: the
// `transform` stage).
//
///   receives: (run_atom, stage_job) for steps of stage_kind::transform
///   answers:  the transformed payload
///   fails:    a step's failure (OpenCV errors are caught by the step)
//
// CPU-bound, never blocking: runs on CAF's scheduler threads, one per scheduler thread.

#include "actors/stages/stage_actor.hpp"
#include "core/preprocessor.hpp"

#include <caf/fwd.hpp>

namespace imgproc {

stage_actor spawn_preprocessor(caf::actor_system& sys, load_ptr load);

} // namespace imgproc
