#pragma once

// Encodes a BGR (or grey) image as JPEG with libjpeg-turbo reading the BGR pixels directly
// (JCS_EXT_BGR), with exactly the settings of OpenCV 4.6's cv::imencode(".jpg") at the same
// quality: the same bytes (tests/core/jpeg_codec_identity_test.cpp), without OpenCV's scalar
// BGR-to-RGB copy of every row. Other images are first made 8-bit BGR as cv::imencode makes them
// (depth saturated, alpha dropped).

#include <opencv2/core/mat.hpp>
#include <string>

namespace imgproc {

/// Replaces `out` with the JPEG of `image` at `quality` (clamped to 0..100, as OpenCV does).
/// Returns false, with `problem` set, for an image without 1, 3 or 4 channels or if libjpeg fails.
/// `out`'s capacity is reused: pass the same string again to avoid a new allocation per image.
bool encode_jpeg(const cv::Mat& image, int quality, std::string& out, std::string& problem);

} // namespace imgproc
