#include "core/video/video_reader.hpp"

#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>
#include <vector>

namespace imgproc {
namespace {

/// The period assumed when a container declares no rate.
constexpr double fallback_fps = 25;

} // namespace

timestamp_mender::timestamp_mender(double declared_fps)
    : period_ms_(1000.0 /
                 (std::isfinite(declared_fps) && declared_fps > 0 ? declared_fps : fallback_fps)) {}

double timestamp_mender::next(double reported_ms) {
  double pts = reported_ms;
  bool usable = std::isfinite(reported_ms) && reported_ms >= 0 && (!last_ || reported_ms > *last_);
  if (!usable)
    pts = last_ ? *last_ + period_ms_ : 0;
  last_ = pts;
  return pts;
}

result<std::unique_ptr<video_reader>> video_reader::open(const std::string& location,
                                                         video_limits limits) {
  try {
    const std::vector<int> params{
        cv::CAP_PROP_OPEN_TIMEOUT_MSEC, static_cast<int>(limits.open_timeout.count()),
        cv::CAP_PROP_READ_TIMEOUT_MSEC, static_cast<int>(limits.read_timeout.count())};
    auto capture = std::make_unique<cv::VideoCapture>(location, cv::CAP_FFMPEG, params);
    if (!capture->isOpened())
      return make_failure(error_code::unsupported_media_type,
                          location.find("://") == std::string::npos
                              ? "not a video this service can read (FFmpeg found no video stream)"
                              : "cannot open the source: unreachable within the open timeout, or "
                                "not a video FFmpeg can read");
    video_info info;
    info.width = static_cast<int>(capture->get(cv::CAP_PROP_FRAME_WIDTH));
    info.height = static_cast<int>(capture->get(cv::CAP_PROP_FRAME_HEIGHT));
    double fps = capture->get(cv::CAP_PROP_FPS);
    info.fps = std::isfinite(fps) && fps > 0 ? fps : 0;
    double frames = capture->get(cv::CAP_PROP_FRAME_COUNT);
    info.declared_frames =
        std::isfinite(frames) && frames > 0 ? static_cast<std::int64_t>(frames) : 0;
    if (info.width <= 0 || info.height <= 0)
      return make_failure(error_code::unsupported_media_type, "the video declares no frame size");
    auto pixels = static_cast<std::uint64_t>(info.width) * static_cast<std::uint64_t>(info.height);
    if (pixels > limits.max_frame_pixels)
      return make_failure(error_code::image_too_large,
                          "video frames are " + std::to_string(info.width) + "x" +
                              std::to_string(info.height) + " pixels, over the limit of " +
                              std::to_string(limits.max_frame_pixels) + " pixels");
    return std::unique_ptr<video_reader>(new video_reader(std::move(capture), info, limits));
  } catch (const cv::Exception& e) {
    return make_failure(error_code::unsupported_media_type,
                        std::string{"OpenCV cannot read the video: "} + e.what());
  }
}

video_reader::video_reader(std::unique_ptr<cv::VideoCapture> capture, video_info info,
                           video_limits limits)
    : capture_(std::move(capture)), info_(info), limits_(limits), timestamps_(info.fps) {}

video_reader::~video_reader() = default;

std::optional<video_frame> video_reader::next() {
  video_frame frame;
  try {
    if (!capture_->read(frame.image) || frame.image.empty())
      return std::nullopt;
    auto pixels = static_cast<std::uint64_t>(frame.image.total());
    if (pixels > limits_.max_frame_pixels || frame.image.type() != CV_8UC3)
      return std::nullopt;
    frame.pts_ms = timestamps_.next(capture_->get(cv::CAP_PROP_POS_MSEC));
  } catch (const cv::Exception&) {
    return std::nullopt; // FFmpeg gave up on the rest of the file
  }
  frame.index = next_index_++;
  return frame;
}

} // namespace imgproc
