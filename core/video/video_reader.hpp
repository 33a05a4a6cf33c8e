#pragma once

// Reads a video frame by frame with OpenCV's videoio (Debian's build: the FFmpeg backend), from a
// file or a live URL (MJPEG over HTTP, RTSP): each frame decoded to an 8-bit BGR image with its
// index and its timestamp on the source's clock. Blocking and CPU-heavy: a stream calls it from a
// thread of its own, never from CAF's scheduler. Opening and each read are bounded by timeouts
// (FFmpeg's), so a source that goes silent ends the reading instead of hanging it.
//
// Timestamps: the container's, as FFmpeg reports them (CAP_PROP_POS_MSEC), while they increase.
// Containers do not always keep them: an AVI may report 0 for its last frame, or nothing at all.
// A timestamp that does not move forward is replaced by the previous one plus one frame period
// at the declared rate (25 fps if none is declared), so timestamps always increase.

#include "core/errors.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <opencv2/core/mat.hpp>
#include <optional>
#include <string>

namespace cv {
class VideoCapture;
}

namespace imgproc {

struct video_limits {
  /// Largest frame accepted, in pixels: 3840x2160 (4K UHD) by default.
  std::uint64_t max_frame_pixels = 3840ull * 2160;
  /// How long opening may take (connecting to a camera, probing the stream).
  std::chrono::milliseconds open_timeout{10000};
  /// How long one read may wait for data: a live source silent for longer ends the reading.
  std::chrono::milliseconds read_timeout{10000};
};

/// What the container declares. Frame counts and rates are hints: a damaged or variable-rate
/// file may hold fewer frames, or at other times.
struct video_info {
  int width = 0;
  int height = 0;
  double fps = 0;                   ///< 0 when the container declares none
  std::int64_t declared_frames = 0; ///< 0 when unknown
};

struct video_frame {
  std::int64_t index = 0; ///< 0, 1, 2, ... in decode order
  double pts_ms = 0;      ///< on the source's clock, increasing
  cv::Mat image;          ///< 8-bit BGR
};

/// Turns the timestamps a container reports into increasing ones (see above). Separate from the
/// reader so that it is tested without a video.
class timestamp_mender {
public:
  explicit timestamp_mender(double declared_fps);
  /// The timestamp of the next frame, given what the container reported for it (NaN: nothing).
  double next(double reported_ms);

private:
  double period_ms_;
  std::optional<double> last_;
};

class video_reader {
public:
  /// Opens `location`: a file path or a URL FFmpeg reads (http, https, rtsp). Fails with
  /// unsupported_media_type when it is not a video OpenCV can read (or cannot be reached within
  /// the open timeout), and image_too_large when its frames are over `limits`.
  static result<std::unique_ptr<video_reader>> open(const std::string& location,
                                                    video_limits limits = {});
  ~video_reader();
  video_reader(const video_reader&) = delete;
  video_reader& operator=(const video_reader&) = delete;

  const video_info& info() const { return info_; }

  /// The next frame, or nullopt at the end: of the file, of a live stream (its server closed it,
  /// or sent nothing within the read timeout), or where FFmpeg can decode no further (a damaged
  /// file ends early). A frame larger than the limits ends it too: its size changed mid-stream.
  std::optional<video_frame> next();

  /// Frames returned so far.
  std::int64_t frames_read() const { return next_index_; }

private:
  video_reader(std::unique_ptr<cv::VideoCapture> capture, video_info info, video_limits limits);

  std::unique_ptr<cv::VideoCapture> capture_;
  video_info info_;
  video_limits limits_;
  timestamp_mender timestamps_;
  std::int64_t next_index_ = 0;
};

} // namespace imgproc
