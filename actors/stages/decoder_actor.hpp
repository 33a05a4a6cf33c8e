#pragma once

// Decoder: turns the uploaded JPEG into an image (the `decode` stage's steps).
//
///   receives: (run_atom, stage_job) for steps of stage_kind::decode
///   answers:  the payload, now holding a BGR cv::Mat
///   fails:    unsupported_media_type, image_too_large, undecodable_image
//
// CPU-bound, never blocking: runs on CAF's scheduler threads. A process spawns one per scheduler
// thread so that decodes run in parallel.

#include "actors/stages/stage_actor.hpp"
#include "core/jpeg_decoder.hpp"

#include <caf/fwd.hpp>

namespace imgproc {

stage_actor spawn_decoder(caf::actor_system& sys, jpeg_decoder_settings settings, load_ptr load);

} // namespace imgproc
