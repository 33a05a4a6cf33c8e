#include "common/base64.hpp"
#include "core/jpeg_decoder.hpp"
#include "core/preprocessor.hpp"
#include "tests/support/test_images.hpp"

#include <gtest/gtest.h>
#include <opencv2/core.hpp>

namespace imgproc {
namespace {

using testing::decode;

TEST(preprocessor, resizes_to_exactly_640x640_from_any_shape) {
  preprocessor p;
  for (auto [w, h] : {std::pair{600, 482}, {1920, 1080}, {17, 900}, {640, 640}}) {
    auto out = p.resize(decode(testing::gradient_jpeg(w, h)), 640, 640, interpolation::linear);
    ASSERT_TRUE(out);
    EXPECT_EQ(out->cols, 640);
    EXPECT_EQ(out->rows, 640);
  }
}

TEST(preprocessor, normalize_stretches_values_to_the_full_range) {
  preprocessor p;
  // A low-contrast image: values between 100 and 150.
  auto image = decode(testing::gradient_jpeg(200, 100, 100, 150));
  double lo = 0, hi = 0;
  cv::minMaxLoc(image.reshape(1), &lo, &hi);
  ASSERT_GT(lo, 0);
  auto out = p.normalize(image, 0, 255);
  ASSERT_TRUE(out);
  cv::minMaxLoc(out->reshape(1), &lo, &hi);
  EXPECT_EQ(lo, 0);
  EXPECT_EQ(hi, 255);
  EXPECT_EQ(out->depth(), CV_8U);
}

TEST(preprocessor, encodes_a_jpeg_that_round_trips_through_base64) {
  preprocessor p;
  auto image = decode(testing::gradient_jpeg(640, 640));
  std::string bytes;
  ASSERT_FALSE(p.encode_jpeg(image, 90, bytes));
  auto header = read_jpeg_header(bytes);
  ASSERT_TRUE(header);
  EXPECT_EQ(header->width, 640);
  auto text = base64_encode(bytes);
  auto back = base64_decode(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, bytes);
  EXPECT_TRUE(jpeg_decoder{}.decode(*back));
}

TEST(preprocessor, opencv_errors_become_failures) {
  preprocessor p;
  auto out = p.resize(cv::Mat{}, 640, 640, interpolation::linear); // empty input asserts in OpenCV
  EXPECT_FALSE(out);
}

} // namespace
} // namespace imgproc
