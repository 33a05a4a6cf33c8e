// decode_jpeg's reduce_to_width / reduce_to_height: libjpeg decodes at 1/2, 1/4 or 1/8 scale when
// both decoded sides stay at least the target, and the car-detection chain (resize to 640x640,
// normalize) then gives nearly the same image as after a full-size decode.

#include "core/errors.hpp"
#include "core/jpeg_decoder.hpp"
#include "core/pipeline_plan.hpp"
#include "core/preprocessor.hpp"
#include "core/step_registry.hpp"
#include "tests/support/test_images.hpp"

#include <cstdio>
#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

namespace imgproc {
namespace {

/// A photo-like w x h JPEG: smooth gradients, a few shapes with hard edges, a little noise, so the
/// comparison is not flattered by a pure gradient. Deterministic (fixed RNG seed).
std::string scene_jpeg(int w, int h) {
  cv::Mat image(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      image.at<cv::Vec3b>(y, x) =
          cv::Vec3b(static_cast<uchar>(40 + 150 * x / w), static_cast<uchar>(60 + 120 * y / h),
                    static_cast<uchar>(30 + 90 * (x + y) / (w + h)));
  cv::rectangle(image, {w / 5, h / 3, w / 4, h / 5}, {20, 20, 200}, cv::FILLED);
  cv::circle(image, {w * 2 / 3, h / 2}, h / 6, {230, 230, 230}, cv::FILLED);
  cv::line(image, {0, h - 1}, {w - 1, 0}, {0, 0, 0}, std::max(1, w / 300));
  cv::putText(image, "ABC 123", {w / 10, h * 5 / 6}, cv::FONT_HERSHEY_SIMPLEX, h / 300.0,
              {250, 200, 0}, std::max(1, h / 200));
  cv::Mat noise(h, w, CV_8UC3);
  cv::RNG rng(7);
  rng.fill(noise, cv::RNG::NORMAL, 0, 6);
  cv::add(image, noise, image, cv::noArray(), CV_8UC3);
  std::vector<uchar> out;
  cv::imencode(".jpg", image, out, {cv::IMWRITE_JPEG_QUALITY, 90});
  return std::string(out.begin(), out.end());
}

class jpeg_reduced_decode_test : public ::testing::Test {
protected:
  void SetUp() override { register_default_steps(registry); }

  result<pipeline_plan> plan(std::vector<step_definition> steps) {
    return plan_pipeline(registry, 1, "reduced-decode", steps);
  }

  /// Runs the steps as the stage actors do; the payload's final image is returned (empty on a
  /// failure, which fails the test).
  cv::Mat run(std::vector<step_definition> steps, const std::string& jpeg) {
    auto planned = plan(std::move(steps));
    EXPECT_TRUE(planned) << (planned ? "" : planned.error().detail);
    if (!planned)
      return {};
    stage_resources resources{&decoder, &images, nullptr};
    payload data;
    data.bytes = jpeg;
    for (const auto& step : planned->steps)
      if (auto err = step.run(resources, data)) {
        ADD_FAILURE() << step.kind->handler << ": " << err->detail;
        return {};
      }
    return data.image;
  }

  /// The car-detection chain's image steps, with the decode step's parameters given.
  std::vector<step_definition> car_chain(nlohmann::json decode_params) {
    return {{"decode_jpeg", std::move(decode_params)},
            {"resize", {{"width", 640}, {"height", 640}}},
            {"normalize", nlohmann::json::object()}};
  }

  void expect_invalid(nlohmann::json decode_params, const std::string& needle) {
    auto planned = plan({{"decode_jpeg", std::move(decode_params)}});
    ASSERT_FALSE(planned) << needle;
    EXPECT_EQ(planned.error().code, error_code::invalid_pipeline);
    EXPECT_NE(planned.error().detail.find(needle), std::string::npos) << planned.error().detail;
  }

  step_registry registry;
  jpeg_decoder decoder;
  preprocessor images;
};

double mean_abs_diff(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  auto mean = cv::mean(diff);
  return (mean[0] + mean[1] + mean[2]) / 3;
}

TEST(jpeg_reduction_factor, picks_the_largest_scale_keeping_both_sides_at_the_target) {
  EXPECT_EQ(jpeg_reduction_factor(1920, 1080, {640, 640}), 1); // 1080 / 2 = 540 < 640
  EXPECT_EQ(jpeg_reduction_factor(2560, 1440, {640, 640}), 2);
  EXPECT_EQ(jpeg_reduction_factor(3840, 2160, {640, 640}), 2); // 2160 / 4 = 540
  EXPECT_EQ(jpeg_reduction_factor(5120, 2880, {640, 640}), 4);
  EXPECT_EQ(jpeg_reduction_factor(1920, 1080, {640, 360}), 2); // 960 x 540 >= 640 x 360
  EXPECT_EQ(jpeg_reduction_factor(1920, 1080, {0, 270}), 4);
  EXPECT_EQ(jpeg_reduction_factor(1920, 1080, {240, 0}), 8);
  EXPECT_EQ(jpeg_reduction_factor(1279, 1279, {640, 640}), 1); // just under twice the target
  EXPECT_EQ(jpeg_reduction_factor(1280, 1280, {640, 640}), 2);
  EXPECT_EQ(jpeg_reduction_factor(1920, 1080, {}), 1); // off
}

TEST_F(jpeg_reduced_decode_test, off_by_default_and_identical_to_the_plain_decoder) {
  auto jpeg = scene_jpeg(2560, 1440);
  cv::Mat plain = testing::decode(jpeg);
  for (auto params : {nlohmann::json::object(),
                      nlohmann::json{{"reduce_to_width", 0}, {"reduce_to_height", 0}}}) {
    cv::Mat decoded = run({{"decode_jpeg", params}}, jpeg);
    ASSERT_EQ(decoded.size(), cv::Size(2560, 1440)) << params;
    EXPECT_EQ(cv::norm(decoded, plain, cv::NORM_INF), 0) << params;
  }
  auto planned = plan({{"decode_jpeg", nlohmann::json::object()}});
  ASSERT_TRUE(planned);
  EXPECT_EQ(planned->steps[0].params,
            (nlohmann::json{
                {"reduce_to_width", 0}, {"reduce_to_height", 0}, {"corrupt_data", "refuse"}}));
  // The car chain with the option off is exactly what it was.
  cv::Mat chain = run(car_chain(nlohmann::json::object()), jpeg);
  auto resized = images.resize(plain, 640, 640, interpolation::linear);
  ASSERT_TRUE(resized);
  auto normalized = images.normalize(resized.value(), 0, 255);
  ASSERT_TRUE(normalized);
  EXPECT_EQ(cv::norm(chain, normalized.value(), cv::NORM_INF), 0);
}

TEST_F(jpeg_reduced_decode_test, decodes_a_large_source_at_reduced_scale_within_tolerance) {
  // Tolerance after the car chain (resize to 640x640 linear, normalize), 0-255 scale: the mean
  // absolute difference from the full-size path stays under 4 (measured about 1-2, printed).
  constexpr double tolerance = 4.0;
  struct source {
    int width, height, factor;
  };
  nlohmann::json target{{"reduce_to_width", 640}, {"reduce_to_height", 640}};
  for (source s : {source{2560, 1440, 2}, source{1920, 1280, 2}, source{5120, 2880, 4}}) {
    auto jpeg = scene_jpeg(s.width, s.height);
    cv::Mat decoded = run({{"decode_jpeg", target}}, jpeg);
    ASSERT_EQ(decoded.size(), cv::Size(s.width / s.factor, s.height / s.factor)) << s.width;
    EXPECT_GE(decoded.cols, 640);
    EXPECT_GE(decoded.rows, 640);
    EXPECT_EQ(decoded.type(), CV_8UC3);

    cv::Mat full = run(car_chain(nlohmann::json::object()), jpeg);
    cv::Mat reduced = run(car_chain(target), jpeg);
    ASSERT_EQ(reduced.size(), cv::Size(640, 640));
    double mean = mean_abs_diff(full, reduced);
    std::printf("[ measured ] %dx%d at 1/%d: mean |full - reduced| = %.3f, max = %.0f\n", s.width,
                s.height, s.factor, mean, cv::norm(full, reduced, cv::NORM_INF));
    EXPECT_LT(mean, tolerance) << s.width << "x" << s.height;
  }
}

TEST_F(jpeg_reduced_decode_test, a_source_under_twice_the_target_decodes_at_full_size) {
  nlohmann::json target{{"reduce_to_width", 640}, {"reduce_to_height", 640}};
  for (auto size : {cv::Size(1920, 1080), cv::Size(1279, 1400), cv::Size(600, 482)}) {
    auto jpeg = scene_jpeg(size.width, size.height);
    cv::Mat decoded = run({{"decode_jpeg", target}}, jpeg);
    EXPECT_EQ(decoded.size(), size);
    EXPECT_EQ(cv::norm(decoded, testing::decode(jpeg), cv::NORM_INF), 0) << size;
  }
}

TEST_F(jpeg_reduced_decode_test, the_limits_apply_to_the_declared_size) {
  auto jpeg = scene_jpeg(1600, 1600);
  auto image = jpeg_decoder{{1'000'000, 1}}.decode(jpeg, {200, 200}); // would decode 200x200
  ASSERT_FALSE(image);
  EXPECT_EQ(image.error().code, error_code::image_too_large);
}

TEST_F(jpeg_reduced_decode_test, refuses_bad_parameters_as_other_steps_do) {
  expect_invalid({{"reduce_to_width", "640"}}, "parameter 'reduce_to_width' must be an integer");
  expect_invalid({{"reduce_to_height", 640.5}}, "parameter 'reduce_to_height' must be an integer");
  expect_invalid({{"reduce_to_width", -1}}, "parameter 'reduce_to_width' must be in [0, 16384]");
  expect_invalid({{"reduce_to_height", 20000}},
                 "parameter 'reduce_to_height' must be in [0, 16384]");
  expect_invalid({{"reduce_to", {640, 640}}}, "unknown parameter 'reduce_to'");
  EXPECT_TRUE(plan({{"decode_jpeg", {{"reduce_to_width", 640.0}}}})); // a whole number is fine
}

} // namespace
} // namespace imgproc
