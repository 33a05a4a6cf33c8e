#pragma once

// Which frames of a video a stream processes. A stream asks for `fps` frames per second of the
// source's own time: the sampling instants are k / fps seconds (k = 0, 1, ...) on the source's
// timestamps, and each instant is served by the first frame at or after it. A frame that passes
// over several instants (a source slower than `fps`, or a gap) serves them all at once, so no
// frame is taken twice and a sampled timestamp never waits for a later frame than it must.
//
// Plain arithmetic on timestamps: no video library, no clock. Each instant is computed from k
// afresh, so a long stream does not drift.

#include <cstdint>

namespace imgproc {

/// The sampling rates a stream may ask for: one frame a minute to 60 a second.
inline constexpr double min_stream_fps = 1.0 / 60;
inline constexpr double max_stream_fps = 60;

class frame_sampler {
public:
  /// `fps` must lie in [min_stream_fps, max_stream_fps] (the API refuses others before this).
  explicit frame_sampler(double fps);

  /// Whether the frame at `pts_ms` is taken. Timestamps must not go back (the video reader
  /// makes them increase); a frame before the next instant is skipped.
  bool take(double pts_ms);

  /// The instant the next taken frame must reach, in ms of the source's time.
  double next_due_ms() const { return instant_ms(next_); }

  /// Continues a stream whose frames up to `pts_ms` were already stored (a file resumed after a
  /// restart): every instant at or before it counts as served.
  void resume_after(double pts_ms);

  double fps() const { return fps_; }

private:
  double instant_ms(std::int64_t k) const { return static_cast<double>(k) * 1000.0 / fps_; }
  void pass(double pts_ms);

  double fps_;
  std::int64_t next_ = 0; ///< the index of the next instant to serve
};

} // namespace imgproc
