// A dry run's records (core/dry_run) without actors: previews scaled to at most 320 px as JPEG
// data URLs, boxes drawn in the right coordinates, and what each kind of output is described as.

#include "common/base64.hpp"
#include "core/dry_run.hpp"
#include "core/jpeg_decoder.hpp"
#include "core/preprocessor.hpp"
#include "core/step_registry.hpp"
#include "tests/support/images.hpp"

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

namespace imgproc {
namespace {

cv::Mat decode_preview(const nlohmann::json& preview) {
  const std::string prefix = "data:image/jpeg;base64,";
  std::string url = preview.at("data_url");
  EXPECT_EQ(url.rfind(prefix, 0), 0u);
  auto bytes = base64_decode(std::string_view{url}.substr(prefix.size()));
  if (!bytes)
    return {};
  std::vector<uchar> buffer(bytes->begin(), bytes->end());
  return cv::imdecode(buffer, cv::IMREAD_COLOR);
}

TEST(dry_run_preview, scales_the_long_side_to_320_and_never_enlarges) {
  cv::Mat wide(400, 1000, CV_8UC3, cv::Scalar(10, 120, 200));
  auto preview = preview_json(wide, {}, wide.size());
  EXPECT_EQ(preview["width"], 320);
  EXPECT_EQ(preview["height"], 128);
  auto image = decode_preview(preview);
  EXPECT_EQ(image.cols, 320);
  EXPECT_EQ(image.rows, 128);

  cv::Mat small(50, 80, CV_8UC1, cv::Scalar(90));
  preview = preview_json(small, {}, small.size());
  EXPECT_EQ(preview["width"], 80);
  EXPECT_EQ(preview["height"], 50);
  EXPECT_TRUE(preview_json(cv::Mat{}, {}, {}).is_null());
}

TEST(dry_run_preview, draws_boxes_given_in_another_frame_at_the_right_place) {
  cv::Mat black(480, 640, CV_8UC3, cv::Scalar::all(0));
  // A box in a 1280x960 frame (twice the image): drawn at (50, 25)-(100, 75) in the 320x240
  // preview.
  detection box{200, 100, 200, 200, 0.9, 0};
  auto image = decode_preview(preview_json(black, {box}, {1280, 960}));
  ASSERT_EQ(image.cols, 320);
  auto green = [&](int x, int y) { return image.at<cv::Vec3b>(y, x)[1] > 120; };
  EXPECT_TRUE(green(50, 50));  // left edge
  EXPECT_TRUE(green(75, 25));  // top edge
  EXPECT_TRUE(green(100, 50)); // right edge
  EXPECT_FALSE(green(75, 50)); // inside: not filled
  EXPECT_FALSE(green(200, 200));
}

TEST(dry_run_record, describes_each_output_and_previews_what_was_encoded_or_searched) {
  step_registry registry;
  register_default_steps(registry);
  auto plan = plan_pipeline(registry, 1, "t",
                            {{"decode_jpeg", {}},
                             {"resize", {{"width", 64}, {"height", 48}}},
                             {"encode", {{"format", "png"}}},
                             {"base64", {}}});
  ASSERT_TRUE(plan) << plan.error().detail;
  jpeg_decoder decoder;
  preprocessor images;
  stage_resources resources{&decoder, &images, nullptr, nullptr};
  auto jpeg = testing::make_jpeg(120, 90, 4);
  payload data;
  data.bytes = jpeg;
  dry_run_trace trace;
  for (std::size_t i = 0; i < plan->steps.size(); ++i) {
    cv::Mat before = data.image;
    ASSERT_FALSE(plan->steps[i].run(resources, data));
    record_step(trace, *plan, i, before, data, 0.002);
  }
  ASSERT_EQ(trace.steps.size(), 4u);
  EXPECT_EQ(trace.steps[0]["handler"], "decode_jpeg");
  EXPECT_EQ(trace.steps[0]["index"], 1);
  EXPECT_EQ(trace.steps[0]["time_ms"], 2.0);
  EXPECT_EQ(trace.steps[0]["output"], (nlohmann::json{{"kind", "image"},
                                                      {"width", 120},
                                                      {"height", 90},
                                                      {"channels", 3},
                                                      {"bytes", 120 * 90 * 3}}));
  EXPECT_EQ(trace.steps[1]["params"]["interpolation"], "linear"); // defaults filled in
  EXPECT_EQ(trace.steps[1]["preview"]["width"], 64);
  // The encode step's preview is the image it encoded; base64 text has none.
  EXPECT_EQ(trace.steps[2]["output"]["kind"], "encoded_bytes");
  EXPECT_EQ(trace.steps[2]["output"]["format"], "png");
  EXPECT_EQ(trace.steps[2]["preview"]["width"], 64);
  EXPECT_EQ(trace.steps[3]["output"]["kind"], "base64_text");
  EXPECT_TRUE(trace.steps[3]["preview"].is_null());
  EXPECT_EQ(trace.last_image.cols, 64);
}

} // namespace
} // namespace imgproc
