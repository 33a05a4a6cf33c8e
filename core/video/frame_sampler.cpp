#include "core/video/frame_sampler.hpp"

#include <algorithm>
#include <cmath>

namespace imgproc {
namespace {

/// Timestamps arrive as milliseconds with fractions (41.7 at 23.976 fps): a frame within a
/// microsecond of an instant is at it.
constexpr double tolerance_ms = 1e-3;

} // namespace

frame_sampler::frame_sampler(double fps)
    : fps_(std::clamp(std::isfinite(fps) ? fps : max_stream_fps, min_stream_fps, max_stream_fps)) {}

bool frame_sampler::take(double pts_ms) {
  if (pts_ms + tolerance_ms < instant_ms(next_))
    return false;
  pass(pts_ms);
  return true;
}

void frame_sampler::resume_after(double pts_ms) {
  if (pts_ms + tolerance_ms >= instant_ms(next_))
    pass(pts_ms);
}

void frame_sampler::pass(double pts_ms) {
  // Jump close (a long gap or a resume skips many instants), then step past pts_ms.
  auto near = static_cast<std::int64_t>(std::floor((pts_ms + tolerance_ms) * fps_ / 1000.0));
  next_ = std::max(next_, near);
  while (instant_ms(next_) <= pts_ms + tolerance_ms)
    ++next_;
}

} // namespace imgproc
