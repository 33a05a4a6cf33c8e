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
  // Straight to the first instant after pts_ms, then one step back if rounding overshot.
  auto k = static_cast<std::int64_t>(std::floor((pts_ms + tolerance_ms) * fps_ / 1000.0)) + 1;
  next_ = std::max(next_ + 1, k);
  while (next_ > 0 && instant_ms(next_ - 1) > pts_ms + tolerance_ms)
    --next_;
}

} // namespace imgproc
