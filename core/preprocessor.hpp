#pragma once

// The image operations of the car-detection chain: resize, normalize, encode, base64.
// Each catches OpenCV's exceptions and returns them as failures.

#include "core/errors.hpp"

#include <opencv2/core/mat.hpp>
#include <string>

namespace imgproc {

enum class interpolation { nearest, linear, area, cubic };

bool parse_interpolation(const std::string& name, interpolation& out);

class preprocessor {
public:
  result<cv::Mat> resize(const cv::Mat& image, int width, int height, interpolation how) const;

  /// cv::normalize with NORM_MINMAX into [alpha, beta] as 8-bit.
  result<cv::Mat> normalize(const cv::Mat& image, double alpha, double beta) const;

  /// JPEG-encodes into `out` (replacing its content; its capacity is reused).
  status encode_jpeg(const cv::Mat& image, int quality, std::string& out) const;
};

} // namespace imgproc
