#pragma once

// The image operations the transform steps run: resize, normalize and encode for the
// car-detection chain, plus grayscale, crop, letterbox, fit_within, flip, rotate and blur for
// other pipelines.
// Each catches OpenCV's exceptions and returns them as failures. Inputs are the 8-bit BGR (or
// grayscale) images the decode and transform steps produce.

#include "core/errors.hpp"
#include "core/name_table.hpp"

#include <opencv2/core/mat.hpp>
#include <string>

namespace imgproc {

enum class interpolation { nearest, linear, area, cubic };

inline constexpr name_table<interpolation, 4> interpolation_names{
    {{"nearest", interpolation::nearest},
     {"linear", interpolation::linear},
     {"area", interpolation::area},
     {"cubic", interpolation::cubic}}};

enum class flip_mode { horizontal, vertical, both };

inline constexpr name_table<flip_mode, 3> flip_mode_names{{{"horizontal", flip_mode::horizontal},
                                                           {"vertical", flip_mode::vertical},
                                                           {"both", flip_mode::both}}};

enum class image_format { jpeg, png };

/// The names the `encode` step takes and the payload records.
inline constexpr name_table<image_format, 2> image_format_names{
    {{"jpeg", image_format::jpeg}, {"png", image_format::png}}};

class preprocessor {
public:
  result<cv::Mat> resize(const cv::Mat& image, int width, int height, interpolation how) const;

  /// cv::normalize with NORM_MINMAX into [alpha, beta] as 8-bit.
  result<cv::Mat> normalize(const cv::Mat& image, double alpha, double beta) const;

  /// JPEG-encodes into `out` (replacing its content; its capacity is reused).
  status encode_jpeg(const cv::Mat& image, int quality, std::string& out) const;

  /// Encodes into `out` (replacing its content). `level` is the JPEG quality (1..100) or the PNG
  /// compression level (0..9), whichever the format uses.
  status encode(const cv::Mat& image, image_format format, int level, std::string& out) const;

  /// One channel; with keep_channels == 3 converted back to BGR (still gray) for consumers that
  /// expect three channels. Accepts 1-, 3- and 4-channel input.
  result<cv::Mat> grayscale(const cv::Mat& image, int keep_channels) const;

  /// The rectangle as a view into the image (no copy). Fails with step_failed, naming both
  /// sizes, unless the rectangle lies fully inside the image.
  result<cv::Mat> crop(const cv::Mat& image, int x, int y, int width, int height) const;

  /// Scales to fit width x height keeping the aspect ratio and pads the rest with `color` on
  /// every channel, the image centred (what YOLO's preprocessing does, with 114 as padding).
  result<cv::Mat> letterbox(const cv::Mat& image, int width, int height, int color) const;

  /// Scales to fit inside width x height keeping the aspect ratio, without padding: the sides
  /// are rounded and at least 1. A smaller image stays as it is (no copy) unless `upscale`. What
  /// a detector needs before it runs, so that its boxes map back to the upload by one ratio.
  result<cv::Mat> fit_within(const cv::Mat& image, int width, int height, bool upscale,
                             interpolation how) const;

  result<cv::Mat> flip(const cv::Mat& image, flip_mode mode) const;

  /// Rotates clockwise by 90, 180 or 270 degrees; any other angle fails with step_failed.
  result<cv::Mat> rotate(const cv::Mat& image, int degrees) const;

  /// cv::GaussianBlur with a kernel x kernel window; `kernel` must be odd and positive, and a
  /// sigma of 0 lets OpenCV derive it from the kernel size.
  result<cv::Mat> gaussian_blur(const cv::Mat& image, int kernel, double sigma) const;
};

} // namespace imgproc
