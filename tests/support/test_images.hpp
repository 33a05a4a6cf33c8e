#pragma once

// JPEGs made by the tests themselves (cv::imencode), so unit tests need no files.

#include "core/jpeg_decoder.hpp"

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

namespace imgproc::testing {

/// A w x h colour gradient with values in [low, high], JPEG-encoded.
inline std::string gradient_jpeg(int w, int h, int low = 0, int high = 255) {
  cv::Mat image(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      int v = low + (high - low) * (x + y) / std::max(1, w + h - 2);
      auto c = static_cast<uchar>(v);
      auto mirrored = static_cast<uchar>(low + high - v);
      image.at<cv::Vec3b>(y, x) = cv::Vec3b(c, mirrored, c);
    }
  std::vector<uchar> out;
  cv::imencode(".jpg", image, out, {cv::IMWRITE_JPEG_QUALITY, 95});
  return std::string(out.begin(), out.end());
}

/// Decodes with the project's decoder; a failure fails the calling test.
inline cv::Mat decode(const std::string& jpeg) {
  auto image = jpeg_decoder{}.decode(jpeg);
  EXPECT_TRUE(image) << (image ? "" : image.error().detail);
  return image ? image.value() : cv::Mat{};
}

} // namespace imgproc::testing
