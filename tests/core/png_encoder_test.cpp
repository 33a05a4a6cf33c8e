// The service's own PNG encoding (libpng directly, core/png_encoder.cpp) against OpenCV 4.6's
// cv::imencode(".png", {IMWRITE_PNG_COMPRESSION, level}): the same bytes for grey, BGR and BGRA
// images, odd sizes, views and every compression level; wrong image types refused.

#include "bench/bench_images.hpp"
#include "core/jpeg_decoder.hpp"
#include "core/png_encoder.hpp"

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

namespace imgproc {
namespace {

std::string opencv_png(const cv::Mat& image, int level) {
  std::vector<unsigned char> out;
  EXPECT_TRUE(cv::imencode(".png", image, out, {cv::IMWRITE_PNG_COMPRESSION, level}));
  return {out.begin(), out.end()};
}

void expect_same_png(const cv::Mat& image, int level, const std::string& what) {
  SCOPED_TRACE(what + ", level " + std::to_string(level));
  std::string ours, problem;
  ASSERT_TRUE(encode_png(image, level, ours, problem)) << problem;
  auto theirs = opencv_png(image, level);
  EXPECT_EQ(ours.size(), theirs.size());
  EXPECT_TRUE(ours == theirs) << "the PNG bytes differ";
}

cv::Mat photo(int width, int height) {
  auto jpeg = bench::make_image_set(width, height).front();
  auto image = jpeg_decoder{}.decode(jpeg);
  EXPECT_TRUE(image) << image.error().detail;
  return image ? *image : cv::Mat{};
}

TEST(png_encoder, photos_encode_to_opencvs_bytes_at_every_level) {
  auto bgr = photo(640, 480);
  for (int level = 0; level <= 9; ++level)
    expect_same_png(bgr, level, "640x480 BGR");
  cv::Mat grey, bgra;
  cv::cvtColor(bgr, grey, cv::COLOR_BGR2GRAY);
  cv::cvtColor(bgr, bgra, cv::COLOR_BGR2BGRA);
  for (int level : {1, 3, 9}) {
    expect_same_png(grey, level, "640x480 grey");
    expect_same_png(bgra, level, "640x480 BGRA");
  }
}

TEST(png_encoder, odd_sizes_and_views_encode_to_opencvs_bytes) {
  auto bgr = photo(1280, 720);
  expect_same_png(bgr(cv::Rect(3, 5, 333, 101)), 3, "a view with a row stride");
  expect_same_png(bgr(cv::Rect(0, 0, 1, 1)), 3, "one pixel");
  cv::Mat resized;
  cv::resize(bgr, resized, cv::Size(641, 359));
  expect_same_png(resized, 6, "641x359");
}

TEST(png_encoder, levels_outside_0_to_9_are_clamped_as_opencv_clamps_them) {
  auto bgr = photo(640, 480)(cv::Rect(0, 0, 64, 48));
  std::string low, high, zero, nine, problem;
  ASSERT_TRUE(encode_png(bgr, -3, low, problem));
  ASSERT_TRUE(encode_png(bgr, 0, zero, problem));
  ASSERT_TRUE(encode_png(bgr, 42, high, problem));
  ASSERT_TRUE(encode_png(bgr, 9, nine, problem));
  EXPECT_TRUE(low == zero);
  EXPECT_TRUE(high == nine);
}

TEST(png_encoder, images_it_cannot_write_are_refused_with_a_reason) {
  std::string out = "kept?", problem;
  EXPECT_FALSE(encode_png(cv::Mat{}, 3, out, problem));
  EXPECT_FALSE(encode_png(cv::Mat(4, 4, CV_16UC3, cv::Scalar::all(7)), 3, out, problem));
  EXPECT_NE(problem.find("8-bit"), std::string::npos) << problem;
  EXPECT_FALSE(encode_png(cv::Mat(4, 4, CV_8UC2, cv::Scalar::all(7)), 3, out, problem));
}

} // namespace
} // namespace imgproc
