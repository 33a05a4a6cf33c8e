#pragma once

// Encodes an 8-bit grey, BGR or BGRA image as PNG with libpng directly, with exactly the settings
// of OpenCV 4.6's cv::imencode(".png", {IMWRITE_PNG_COMPRESSION, level}): the same bytes
// (tests/core/png_encoder_test.cpp). One step towards a service without libopencv-imgcodecs.

#include <opencv2/core/mat.hpp>
#include <string>

namespace imgproc {

/// Replaces `out` with the PNG of `image` at zlib compression `level` (clamped to 0..9, as OpenCV
/// does). Returns false, with `problem` set, for an image that is not 8-bit with 1, 3 or 4
/// channels, or if libpng fails. `out`'s capacity is reused across calls.
bool encode_png(const cv::Mat& image, int level, std::string& out, std::string& problem);

} // namespace imgproc
