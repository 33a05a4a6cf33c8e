#include "core/preprocessor.hpp"

#include "core/jpeg_encoder.hpp"
#include "core/png_encoder.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

namespace imgproc {
namespace {

int to_cv(interpolation how) {
  switch (how) {
    case interpolation::nearest:
      return cv::INTER_NEAREST;
    case interpolation::linear:
      return cv::INTER_LINEAR;
    case interpolation::area:
      return cv::INTER_AREA;
    case interpolation::cubic:
      return cv::INTER_CUBIC;
  }
  return cv::INTER_LINEAR;
}

failure opencv_failure(const char* what, const cv::Exception& e) {
  return make_failure(error_code::undecodable_image, std::string{what} + " failed: " + e.what());
}

// The newer steps fail with step_failed: the image decoded fine, the step cannot apply to it.
failure step_failure(const char* what, const std::string& why) {
  return make_failure(error_code::step_failed, std::string{what} + ": " + why);
}

failure step_failure(const char* what, const cv::Exception& e) {
  return step_failure(what, std::string{"OpenCV failed: "} + e.what());
}

std::string size_text(int width, int height) {
  return std::to_string(width) + "x" + std::to_string(height);
}

} // namespace

result<cv::Mat> preprocessor::resize(const cv::Mat& image, int width, int height,
                                     interpolation how) const {
  try {
    cv::Mat out;
    cv::resize(image, out, cv::Size(width, height), 0, 0, to_cv(how));
    return out;
  } catch (const cv::Exception& e) {
    return opencv_failure("resize", e);
  }
}

result<cv::Mat> preprocessor::normalize(const cv::Mat& image, double alpha, double beta) const {
  try {
    cv::Mat out;
    cv::normalize(image, out, alpha, beta, cv::NORM_MINMAX, CV_8U);
    return out;
  } catch (const cv::Exception& e) {
    return opencv_failure("normalize", e);
  }
}

status preprocessor::encode_jpeg(const cv::Mat& image, int quality, std::string& out) const {
  try {
    std::string problem;
    if (!imgproc::encode_jpeg(image, quality, out, problem))
      return make_failure(error_code::internal, "JPEG encoding failed: " + problem);
    return std::nullopt;
  } catch (const cv::Exception& e) {
    return opencv_failure("encode_jpeg", e);
  }
}

status preprocessor::encode(const cv::Mat& image, image_format format, int level,
                            std::string& out) const {
  try {
    if (image.empty())
      return step_failure("encode", "the image is empty");
    std::string problem;
    if (format == image_format::png) {
      if (!encode_png(image, level, out, problem))
        return step_failure("encode", problem);
      return std::nullopt;
    }
    if (!imgproc::encode_jpeg(image, level, out, problem))
      return step_failure("encode", problem);
    return std::nullopt;
  } catch (const cv::Exception& e) {
    return step_failure("encode", e);
  }
}

result<cv::Mat> preprocessor::grayscale(const cv::Mat& image, int keep_channels) const {
  if (image.empty())
    return step_failure("grayscale", "the image is empty");
  if (keep_channels != 1 && keep_channels != 3)
    return step_failure("grayscale",
                        "keep_channels must be 1 or 3, got " + std::to_string(keep_channels));
  try {
    cv::Mat gray;
    switch (image.channels()) {
      case 1:
        gray = image; // already gray: shared, not copied
        break;
      case 3:
        cv::cvtColor(image, gray, cv::COLOR_BGR2GRAY);
        break;
      case 4:
        cv::cvtColor(image, gray, cv::COLOR_BGRA2GRAY);
        break;
      default:
        return step_failure("grayscale", "cannot convert an image with " +
                                             std::to_string(image.channels()) + " channels");
    }
    if (keep_channels == 1)
      return gray;
    cv::Mat out;
    cv::cvtColor(gray, out, cv::COLOR_GRAY2BGR);
    return out;
  } catch (const cv::Exception& e) {
    return step_failure("grayscale", e);
  }
}

result<cv::Mat> preprocessor::crop(const cv::Mat& image, int x, int y, int width,
                                   int height) const {
  // 64-bit sums: x + width cannot overflow whatever the caller passes.
  bool inside = x >= 0 && y >= 0 && width > 0 && height > 0 &&
                std::int64_t{x} + width <= image.cols && std::int64_t{y} + height <= image.rows;
  if (!inside)
    return step_failure("crop", "the rectangle " + size_text(width, height) + " at (" +
                                    std::to_string(x) + ", " + std::to_string(y) +
                                    ") is not inside the " + size_text(image.cols, image.rows) +
                                    " image");
  try {
    return image(cv::Rect(x, y, width, height));
  } catch (const cv::Exception& e) {
    return step_failure("crop", e);
  }
}

result<cv::Mat> preprocessor::letterbox(const cv::Mat& image, int width, int height,
                                        int color) const {
  if (image.empty())
    return step_failure("letterbox", "the image is empty");
  if (width <= 0 || height <= 0)
    return step_failure("letterbox",
                        "the target size " + size_text(width, height) + " is not positive");
  try {
    double scale =
        std::min(static_cast<double>(width) / image.cols, static_cast<double>(height) / image.rows);
    // Rounded, then clamped: a very thin image still keeps one row or column.
    int inner_w = std::clamp(static_cast<int>(std::lround(image.cols * scale)), 1, width);
    int inner_h = std::clamp(static_cast<int>(std::lround(image.rows * scale)), 1, height);
    cv::Mat inner = image;
    if (inner_w != image.cols || inner_h != image.rows)
      cv::resize(image, inner, cv::Size(inner_w, inner_h), 0, 0, cv::INTER_LINEAR);
    int top = (height - inner_h) / 2;
    int left = (width - inner_w) / 2;
    cv::Mat out;
    cv::copyMakeBorder(inner, out, top, height - inner_h - top, left, width - inner_w - left,
                       cv::BORDER_CONSTANT, cv::Scalar::all(color));
    return out;
  } catch (const cv::Exception& e) {
    return step_failure("letterbox", e);
  }
}

result<cv::Mat> preprocessor::fit_within(const cv::Mat& image, int width, int height, bool upscale,
                                         interpolation how) const {
  if (image.empty())
    return step_failure("fit_within", "the image is empty");
  if (width <= 0 || height <= 0)
    return step_failure("fit_within",
                        "the target size " + size_text(width, height) + " is not positive");
  double scale =
      std::min(static_cast<double>(width) / image.cols, static_cast<double>(height) / image.rows);
  if (!upscale)
    scale = std::min(scale, 1.0);
  int out_w = std::clamp(static_cast<int>(std::lround(image.cols * scale)), 1, width);
  int out_h = std::clamp(static_cast<int>(std::lround(image.rows * scale)), 1, height);
  if (out_w == image.cols && out_h == image.rows)
    return image;
  try {
    cv::Mat out;
    cv::resize(image, out, cv::Size(out_w, out_h), 0, 0, to_cv(how));
    return out;
  } catch (const cv::Exception& e) {
    return step_failure("fit_within", e);
  }
}

result<cv::Mat> preprocessor::flip(const cv::Mat& image, flip_mode mode) const {
  if (image.empty())
    return step_failure("flip", "the image is empty");
  int code = 1; // cv::flip: 1 mirrors left-right, 0 upside down, -1 both
  switch (mode) {
    case flip_mode::horizontal:
      code = 1;
      break;
    case flip_mode::vertical:
      code = 0;
      break;
    case flip_mode::both:
      code = -1;
      break;
  }
  try {
    cv::Mat out;
    cv::flip(image, out, code);
    return out;
  } catch (const cv::Exception& e) {
    return step_failure("flip", e);
  }
}

result<cv::Mat> preprocessor::rotate(const cv::Mat& image, int degrees) const {
  if (image.empty())
    return step_failure("rotate", "the image is empty");
  cv::RotateFlags how = cv::ROTATE_90_CLOCKWISE;
  if (degrees == 90)
    how = cv::ROTATE_90_CLOCKWISE;
  else if (degrees == 180)
    how = cv::ROTATE_180;
  else if (degrees == 270)
    how = cv::ROTATE_90_COUNTERCLOCKWISE;
  else
    return step_failure("rotate", "degrees must be 90, 180 or 270, got " + std::to_string(degrees));
  try {
    cv::Mat out;
    cv::rotate(image, out, how);
    return out;
  } catch (const cv::Exception& e) {
    return step_failure("rotate", e);
  }
}

result<cv::Mat> preprocessor::gaussian_blur(const cv::Mat& image, int kernel, double sigma) const {
  if (image.empty())
    return step_failure("gaussian_blur", "the image is empty");
  if (kernel <= 0 || kernel % 2 == 0)
    return step_failure("gaussian_blur",
                        "kernel must be odd and positive, got " + std::to_string(kernel));
  try {
    cv::Mat out;
    cv::GaussianBlur(image, out, cv::Size(kernel, kernel), sigma);
    return out;
  } catch (const cv::Exception& e) {
    return step_failure("gaussian_blur", e);
  }
}

} // namespace imgproc
