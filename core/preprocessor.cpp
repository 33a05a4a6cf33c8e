#include "core/preprocessor.hpp"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
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

} // namespace

bool parse_interpolation(const std::string& name, interpolation& out) {
  if (name == "nearest")
    out = interpolation::nearest;
  else if (name == "linear")
    out = interpolation::linear;
  else if (name == "area")
    out = interpolation::area;
  else if (name == "cubic")
    out = interpolation::cubic;
  else
    return false;
  return true;
}

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
    // imencode only writes to a std::vector; a thread-local one keeps its capacity across calls.
    thread_local std::vector<uchar> buffer;
    buffer.clear();
    if (!cv::imencode(".jpg", image, buffer, {cv::IMWRITE_JPEG_QUALITY, quality}))
      return make_failure(error_code::internal, "JPEG encoding failed");
    out.assign(reinterpret_cast<const char*>(buffer.data()), buffer.size());
    return std::nullopt;
  } catch (const cv::Exception& e) {
    return opencv_failure("encode_jpeg", e);
  }
}

} // namespace imgproc
