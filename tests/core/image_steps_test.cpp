// The step kinds beyond the car-detection chain: each operation on its own (preprocessor), then as
// a registered step (parameters checked at plan time, the payload changed in place).

#include "core/errors.hpp"
#include "core/jpeg_decoder.hpp"
#include "core/pipeline_plan.hpp"
#include "core/preprocessor.hpp"
#include "core/step_registry.hpp"
#include "core/task_json.hpp"
#include "http/api_json.hpp"
#include "tests/support/test_images.hpp"

#include <array>
#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

namespace imgproc {
namespace {

using testing::decode;

/// Pixels of `image` (any channel count) that differ from `value` on some channel.
int count_not_equal(const cv::Mat& image, int value) {
  cv::Mat differs;
  cv::compare(image.reshape(1), cv::Scalar::all(value), differs, cv::CMP_NE);
  return cv::countNonZero(differs);
}

class image_steps_test : public ::testing::Test {
protected:
  void SetUp() override { register_default_steps(registry); }

  result<pipeline_plan> plan(std::vector<step_definition> steps) {
    return plan_pipeline(registry, 9, "image-steps", steps);
  }

  /// Plans the steps and runs them on a JPEG the way the stage actors do, one after the other on
  /// the same payload; the first failure is returned.
  status run(std::vector<step_definition> steps, const std::string& jpeg, payload& data) {
    auto planned = plan(std::move(steps));
    if (!planned)
      return planned.error();
    stage_resources resources{&decoder, &images, nullptr};
    data.bytes = jpeg;
    for (const auto& step : planned->steps) {
      if (auto err = step.run(resources, data))
        return err;
      EXPECT_EQ(data.kind, step.kind->output) << step.kind->handler;
    }
    return std::nullopt;
  }

  void expect_invalid(std::vector<step_definition> steps, const std::string& needle) {
    auto planned = plan(std::move(steps));
    ASSERT_FALSE(planned) << needle;
    EXPECT_EQ(planned.error().code, error_code::invalid_pipeline);
    EXPECT_NE(planned.error().detail.find(needle), std::string::npos) << planned.error().detail;
  }

  step_registry registry;
  jpeg_decoder decoder;
  preprocessor images;
};

TEST(step_failed, is_a_422_with_a_stable_name) {
  EXPECT_EQ(http_status(error_code::step_failed), 422);
  EXPECT_STREQ(to_string(error_code::step_failed), "step_failed");
}

TEST_F(image_steps_test, every_new_kind_is_a_transform) {
  for (auto handler :
       {"grayscale", "crop", "letterbox", "flip", "rotate", "gaussian_blur", "encode"}) {
    const step_kind* kind = registry.find(handler);
    ASSERT_NE(kind, nullptr) << handler;
    EXPECT_EQ(kind->stage, stage_kind::transform) << handler;
    EXPECT_EQ(kind->input, value_kind::image) << handler;
    EXPECT_EQ(kind->output,
              std::string{handler} == "encode" ? value_kind::encoded_bytes : value_kind::image)
        << handler;
  }
}

TEST_F(image_steps_test, grayscale_gives_one_channel_or_gray_bgr) {
  auto image = decode(testing::gradient_jpeg(64, 48));
  auto gray = images.grayscale(image, 1);
  ASSERT_TRUE(gray) << gray.error().detail;
  EXPECT_EQ(gray->channels(), 1);
  EXPECT_EQ(gray->depth(), CV_8U);
  EXPECT_EQ(gray->size(), image.size());

  auto bgr = images.grayscale(image, 3);
  ASSERT_TRUE(bgr) << bgr.error().detail;
  ASSERT_EQ(bgr->channels(), 3);
  std::vector<cv::Mat> planes;
  cv::split(*bgr, planes);
  EXPECT_EQ(cv::norm(planes[0], planes[1], cv::NORM_INF), 0);
  EXPECT_EQ(cv::norm(planes[0], planes[2], cv::NORM_INF), 0);
  EXPECT_EQ(cv::norm(planes[0], *gray, cv::NORM_INF), 0);

  // Gray in, gray out: a second grayscale step is harmless.
  auto again = images.grayscale(*gray, 1);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->channels(), 1);
}

TEST_F(image_steps_test, grayscale_keep_channels_is_1_or_3) {
  expect_invalid({{"decode_jpeg", {}}, {"grayscale", {{"keep_channels", 2}}}},
                 "step 2 (grayscale): parameter 'keep_channels' must be one of 1, 3, got 2");
  EXPECT_TRUE(plan({{"decode_jpeg", {}}, {"grayscale", {{"keep_channels", 3}}}}));
}

TEST_F(image_steps_test, crop_keeps_the_rectangle) {
  auto image = decode(testing::gradient_jpeg(64, 48));
  auto out = images.crop(image, 10, 5, 20, 30);
  ASSERT_TRUE(out) << out.error().detail;
  EXPECT_EQ(out->cols, 20);
  EXPECT_EQ(out->rows, 30);
  EXPECT_EQ(out->at<cv::Vec3b>(0, 0), image.at<cv::Vec3b>(5, 10));
  EXPECT_EQ(out->at<cv::Vec3b>(29, 19), image.at<cv::Vec3b>(34, 29));
  // The whole image is inside itself.
  EXPECT_TRUE(images.crop(image, 0, 0, 64, 48));
}

TEST_F(image_steps_test, crop_out_of_bounds_fails_with_step_failed_naming_the_sizes) {
  auto image = decode(testing::gradient_jpeg(64, 48));
  for (auto [x, y, w, h] : {std::array{0, 0, 65, 48},
                            {0, 0, 64, 49},
                            {60, 0, 5, 10},
                            {0, 40, 10, 9},
                            {-1, 0, 10, 10}}) {
    auto out = images.crop(image, x, y, w, h);
    ASSERT_FALSE(out) << x << "," << y << " " << w << "x" << h;
    EXPECT_EQ(out.error().code, error_code::step_failed);
  }
  auto out = images.crop(image, 10, 20, 100, 30);
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().detail.find("100x30"), std::string::npos) << out.error().detail;
  EXPECT_NE(out.error().detail.find("64x48"), std::string::npos) << out.error().detail;

  // As a step: the plan is valid (the image size is unknown then), the run fails.
  payload data;
  auto err = run({{"decode_jpeg", {}}, {"crop", {{"x", 50}, {"width", 20}, {"height", 10}}}},
                 testing::gradient_jpeg(64, 48), data);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->code, error_code::step_failed);
  EXPECT_NE(err->detail.find("64x48"), std::string::npos) << err->detail;
}

TEST_F(image_steps_test, crop_needs_width_and_height) {
  expect_invalid({{"decode_jpeg", {}}, {"crop", {{"width", 10}}}},
                 "step 2 (crop): parameter 'height' is required");
}

TEST_F(image_steps_test, letterbox_pads_a_wide_image_top_and_bottom_with_114) {
  auto image = decode(testing::gradient_jpeg(1280, 720));
  auto out = images.letterbox(image, 640, 640, 114);
  ASSERT_TRUE(out) << out.error().detail;
  ASSERT_EQ(out->cols, 640);
  ASSERT_EQ(out->rows, 640);
  EXPECT_EQ(out->channels(), 3);
  // 1280x720 scaled by 0.5 is 640x360, centred: 140 rows of padding above and below.
  EXPECT_EQ(count_not_equal(out->rowRange(0, 140), 114), 0);
  EXPECT_EQ(count_not_equal(out->rowRange(500, 640), 114), 0);
  // The band is the image: its first and last rows are not padding.
  EXPECT_GT(count_not_equal(out->row(140), 114), 0);
  EXPECT_GT(count_not_equal(out->row(499), 114), 0);
  // And it is the image scaled, not cut: its corners match the original's.
  auto near = [](cv::Vec3b a, cv::Vec3b b) { return cv::norm(a, b, cv::NORM_INF) <= 8; };
  EXPECT_TRUE(near(out->at<cv::Vec3b>(140, 0), image.at<cv::Vec3b>(0, 0)));
  EXPECT_TRUE(near(out->at<cv::Vec3b>(499, 639), image.at<cv::Vec3b>(719, 1279)));
}

TEST_F(image_steps_test, letterbox_pads_a_tall_image_left_and_right) {
  payload data;
  auto err = run({{"decode_jpeg", {}}, {"letterbox", {{"width", 320}, {"height", 320}}}},
                 testing::gradient_jpeg(360, 720), data);
  ASSERT_FALSE(err) << err->detail;
  ASSERT_EQ(data.image.cols, 320);
  ASSERT_EQ(data.image.rows, 320);
  // 360x720 scaled by 4/9 is 160x320: 80 columns of padding (default 114) on each side.
  EXPECT_EQ(count_not_equal(data.image.colRange(0, 80), 114), 0);
  EXPECT_EQ(count_not_equal(data.image.colRange(240, 320), 114), 0);
  EXPECT_GT(count_not_equal(data.image.col(80), 114), 0);
}

TEST_F(image_steps_test, letterbox_color_is_bounded) {
  expect_invalid({{"decode_jpeg", {}}, {"letterbox", {{"color", 256}}}},
                 "step 2 (letterbox): parameter 'color' must be in [0, 255]");
}

TEST_F(image_steps_test, flip_mirrors_known_pixels) {
  auto image = decode(testing::gradient_jpeg(64, 48));
  auto h = images.flip(image, flip_mode::horizontal);
  auto v = images.flip(image, flip_mode::vertical);
  auto both = images.flip(image, flip_mode::both);
  ASSERT_TRUE(h && v && both);
  EXPECT_EQ(h->size(), image.size());
  EXPECT_EQ(h->at<cv::Vec3b>(3, 0), image.at<cv::Vec3b>(3, 63));
  EXPECT_EQ(h->at<cv::Vec3b>(10, 20), image.at<cv::Vec3b>(10, 43));
  EXPECT_EQ(v->at<cv::Vec3b>(0, 7), image.at<cv::Vec3b>(47, 7));
  EXPECT_EQ(both->at<cv::Vec3b>(0, 0), image.at<cv::Vec3b>(47, 63));
}

TEST_F(image_steps_test, flip_mode_is_one_of_three) {
  expect_invalid({{"decode_jpeg", {}}, {"flip", {{"mode", "diagonal"}}}},
                 "parameter 'mode' must be one of horizontal, vertical, both");
  payload data;
  auto jpeg = testing::gradient_jpeg(64, 48);
  ASSERT_FALSE(run({{"decode_jpeg", {}}, {"flip", {}}}, jpeg, data)); // horizontal by default
  EXPECT_EQ(data.image.at<cv::Vec3b>(0, 0), decode(jpeg).at<cv::Vec3b>(0, 63));
}

TEST_F(image_steps_test, rotate_by_quarter_turns_clockwise) {
  auto image = decode(testing::gradient_jpeg(64, 48));
  auto r90 = images.rotate(image, 90);
  ASSERT_TRUE(r90) << r90.error().detail;
  EXPECT_EQ(r90->cols, 48);
  EXPECT_EQ(r90->rows, 64);
  // Clockwise: the top-left corner goes to the top-right.
  EXPECT_EQ(r90->at<cv::Vec3b>(0, 47), image.at<cv::Vec3b>(0, 0));
  auto r180 = images.rotate(image, 180);
  ASSERT_TRUE(r180);
  EXPECT_EQ(r180->size(), image.size());
  EXPECT_EQ(r180->at<cv::Vec3b>(0, 0), image.at<cv::Vec3b>(47, 63));
  auto r270 = images.rotate(image, 270);
  ASSERT_TRUE(r270);
  EXPECT_EQ(r270->cols, 48);
  EXPECT_EQ(r270->at<cv::Vec3b>(63, 0), image.at<cv::Vec3b>(0, 0));

  auto r45 = images.rotate(image, 45);
  ASSERT_FALSE(r45);
  EXPECT_EQ(r45.error().code, error_code::step_failed);
}

TEST_F(image_steps_test, rotate_degrees_are_integer_choices) {
  expect_invalid({{"decode_jpeg", {}}, {"rotate", {{"degrees", 45}}}},
                 "step 2 (rotate): parameter 'degrees' must be one of 90, 180, 270, got 45");
  expect_invalid({{"decode_jpeg", {}}, {"rotate", {}}}, "parameter 'degrees' is required");
  expect_invalid({{"decode_jpeg", {}}, {"rotate", {{"degrees", "90"}}}},
                 "parameter 'degrees' must be an integer");
  auto planned = plan({{"decode_jpeg", {}}, {"rotate", {{"degrees", 270.0}}}});
  ASSERT_TRUE(planned) << planned.error().detail;
  EXPECT_TRUE(planned->steps[1].params["degrees"].is_number_integer());

  payload data;
  ASSERT_FALSE(run({{"decode_jpeg", {}}, {"rotate", {{"degrees", 90}}}},
                   testing::gradient_jpeg(64, 48), data));
  EXPECT_EQ(data.image.cols, 48);
  EXPECT_EQ(data.image.rows, 64);
}

TEST_F(image_steps_test, gaussian_blur_smooths_and_keeps_the_size) {
  // A sharp edge: blurring must produce values strictly between the two sides.
  cv::Mat edge(20, 20, CV_8UC3, cv::Scalar::all(0));
  edge.colRange(10, 20).setTo(cv::Scalar::all(255));
  auto out = images.gaussian_blur(edge, 5, 0);
  ASSERT_TRUE(out) << out.error().detail;
  EXPECT_EQ(out->size(), edge.size());
  auto mid = out->at<cv::Vec3b>(10, 10)[0];
  EXPECT_GT(mid, 0);
  EXPECT_LT(mid, 255);

  auto even = images.gaussian_blur(edge, 4, 0);
  ASSERT_FALSE(even);
  EXPECT_EQ(even.error().code, error_code::step_failed);
}

TEST_F(image_steps_test, gaussian_blur_even_kernel_is_refused_at_plan_time) {
  expect_invalid({{"decode_jpeg", {}}, {"gaussian_blur", {{"kernel", 4}}}},
                 "step 2 (gaussian_blur): parameter 'kernel' must be odd, got 4");
  expect_invalid({{"decode_jpeg", {}}, {"gaussian_blur", {{"kernel", 101}}}},
                 "parameter 'kernel' must be in [1, 99]");
  expect_invalid({{"decode_jpeg", {}}, {"gaussian_blur", {{"sigma", -1}}}},
                 "parameter 'sigma' must be in [0, 100]");
  auto planned = plan({{"decode_jpeg", {}}, {"gaussian_blur", {}}});
  ASSERT_TRUE(planned) << planned.error().detail;
  EXPECT_EQ(planned->steps[1].params["kernel"], 5);
  EXPECT_EQ(planned->steps[1].params["sigma"], 0);
}

TEST_F(image_steps_test, encode_writes_jpeg_or_png_and_records_what_it_made) {
  auto jpeg = testing::gradient_jpeg(64, 48);
  payload data;
  ASSERT_FALSE(run({{"decode_jpeg", {}}, {"encode", {{"format", "png"}}}}, jpeg, data));
  EXPECT_EQ(data.kind, value_kind::encoded_bytes);
  EXPECT_EQ(data.format, "png");
  EXPECT_EQ(data.encoded_width, 64);
  EXPECT_EQ(data.encoded_height, 48);
  EXPECT_TRUE(data.image.empty()); // released once encoded
  ASSERT_GE(data.text.size(), 8u);
  EXPECT_EQ(data.text.substr(1, 3), "PNG");
  // PNG is lossless: the bytes decode back to the very image that was encoded.
  std::vector<uchar> bytes(data.text.begin(), data.text.end());
  auto back = cv::imdecode(bytes, cv::IMREAD_UNCHANGED);
  EXPECT_EQ(cv::norm(back, decode(jpeg), cv::NORM_INF), 0);

  payload jpeg_out;
  ASSERT_FALSE(run({{"decode_jpeg", {}}, {"encode", {}}}, jpeg, jpeg_out)); // jpeg by default
  EXPECT_EQ(jpeg_out.format, "jpeg");
  EXPECT_TRUE(read_jpeg_header(jpeg_out.text));

  expect_invalid({{"decode_jpeg", {}}, {"encode", {{"format", "gif"}}}},
                 "parameter 'format' must be one of jpeg, png");
  expect_invalid({{"decode_jpeg", {}}, {"encode", {{"png_compression", 10}}}},
                 "parameter 'png_compression' must be in [0, 9]");
  expect_invalid({{"decode_jpeg", {}}, {"encode", {{"quality", 0}}}},
                 "parameter 'quality' must be in [1, 100]");
}

TEST_F(image_steps_test, encode_jpeg_records_its_output_too) {
  payload data;
  ASSERT_FALSE(
      run({{"decode_jpeg", {}}, {"encode_jpeg", {}}}, testing::gradient_jpeg(30, 20), data));
  EXPECT_EQ(data.format, "jpeg");
  EXPECT_EQ(data.encoded_width, 30);
  EXPECT_EQ(data.encoded_height, 20);
}

TEST_F(image_steps_test, grayscale_resize_encode_is_a_pipeline_without_detection) {
  std::vector<step_definition> steps = {{"decode_jpeg", {}},
                                        {"grayscale", {}},
                                        {"resize", {{"width", 320}, {"height", 240}}},
                                        {"encode", {{"format", "png"}}}};
  auto planned = plan(steps);
  ASSERT_TRUE(planned) << planned.error().detail;
  EXPECT_EQ(planned->steps.back().kind->output, value_kind::encoded_bytes);

  payload data;
  auto err = run(steps, testing::gradient_jpeg(640, 480), data);
  ASSERT_FALSE(err) << err->detail;
  EXPECT_STREQ(result_status(data), "processed");
  auto out = output_json(data);
  EXPECT_EQ(out["kind"], "encoded_bytes");
  EXPECT_EQ(out["format"], "png");
  EXPECT_EQ(out["width"], 320);
  EXPECT_EQ(out["height"], 240);
  EXPECT_EQ(out["bytes"], data.text.size());
  std::vector<uchar> bytes(data.text.begin(), data.text.end());
  EXPECT_EQ(cv::imdecode(bytes, cv::IMREAD_UNCHANGED).channels(), 1);

  // Order still matters: nothing turns encoded bytes back into an image.
  expect_invalid({{"decode_jpeg", {}}, {"encode", {}}, {"grayscale", {}}},
                 "step 3 (grayscale): takes image but the previous step produces encoded_bytes");
}

TEST_F(image_steps_test, a_letterboxed_rotated_blurred_chain_runs_to_a_detection_input) {
  // The YOLO-style chain a client could compose from the catalogue, up to the ML input.
  std::vector<step_definition> steps = {
      {"decode_jpeg", {}},
      {"rotate", {{"degrees", 180}}},
      {"crop", {{"x", 10}, {"y", 10}, {"width", 200}, {"height", 100}}},
      {"gaussian_blur", {{"kernel", 3}}},
      {"grayscale", {{"keep_channels", 3}}},
      {"letterbox", {}},
      {"encode_jpeg", {}},
      {"base64", {}}};
  payload data;
  auto err = run(steps, testing::gradient_jpeg(300, 200), data);
  ASSERT_FALSE(err) << err->detail;
  EXPECT_EQ(data.kind, value_kind::base64_text);
  EXPECT_EQ(data.encoded_width, 640);
  EXPECT_EQ(data.encoded_height, 640);
}

} // namespace
} // namespace imgproc
