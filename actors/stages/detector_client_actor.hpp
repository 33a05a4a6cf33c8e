#pragma once

// Detector client: sends the encoded image to the ML service (the `detect` stage's steps).
//
///   receives: (run_atom, stage_job) for steps of stage_kind::detect
///   answers:  the payload, now holding the detection (or none)
///   fails:    ml_unavailable, ml_timeout, ml_bad_response
//
// The HTTP call blocks, so each detector client is a detached actor (its own thread) owning one
// libcurl handle and thereby one kept-alive connection. A process runs a fixed number of them.

#include "actors/stages/stage_actor.hpp"
#include "core/detector_client.hpp"

#include <caf/fwd.hpp>
#include <memory>

namespace imgproc {

stage_actor spawn_detector_client(caf::actor_system& sys, detector_settings settings,
                                  load_ptr load);

} // namespace imgproc
