// The local detector steps (detect_people, detect_cascade) and fit_within as registered steps:
// parameters refused at plan time naming the step and the parameter, boxes in the frame the
// detector saw or mapped to the upload, and the stored output's shape.

#include "core/jpeg_decoder.hpp"
#include "core/object_detectors.hpp"
#include "core/pipeline_plan.hpp"
#include "core/preprocessor.hpp"
#include "core/step_registry.hpp"
#include "core/task_json.hpp"
#include "tests/support/images.hpp"
#include "tests/support/test_images.hpp"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

namespace imgproc {
namespace {

using testing::sample_photo_dir;
using testing::sample_photo_jpeg;

class detector_steps_test : public ::testing::Test {
protected:
  void SetUp() override {
    if (cascade_library::installed()->names().empty() ||
        cv::imread(sample_photo_dir() + "messi5.jpg").empty())
      GTEST_SKIP() << "opencv-data or opencv-doc is not installed (scripts/setup installs them)";
    register_default_steps(registry);
  }

  result<pipeline_plan> plan(std::vector<step_definition> steps) {
    return plan_pipeline(registry, 9, "detectors", steps);
  }

  /// Runs the steps as the stage actors would, on one payload; the first failure is returned.
  status run(std::vector<step_definition> steps, const std::string& jpeg, payload& data) {
    auto planned = plan(std::move(steps));
    if (!planned)
      return planned.error();
    stage_resources resources{&decoder, &images, nullptr, &objects};
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
  object_detectors objects;
};

TEST_F(detector_steps_test, parameters_are_checked_when_the_pipeline_is_planned) {
  expect_invalid({{"decode_jpeg", {}}, {"detect_cascade", {{"cascade", "haarcascade_unicorn"}}}},
                 "step 2 (detect_cascade): parameter 'cascade' must be one of");
  expect_invalid({{"decode_jpeg", {}}, {"detect_cascade", {}}},
                 "step 2 (detect_cascade): parameter 'cascade' is required");
  expect_invalid({{"decode_jpeg", {}}, {"detect_people", {{"scale_factor", 1.0}}}},
                 "step 2 (detect_people): parameter 'scale_factor' must be in [1.01, 2]");
  expect_invalid({{"decode_jpeg", {}}, {"detect_people", {{"win_stride", 5}}}},
                 "parameter 'win_stride' must be one of 4, 8, 16");
  expect_invalid({{"decode_jpeg", {}}, {"detect_people", {{"max_boxes", 0}}}},
                 "parameter 'max_boxes' must be in [1, 1000]");
  expect_invalid({{"decode_jpeg", {}}, {"detect_people", {{"min_confidence", 1.5}}}},
                 "parameter 'min_confidence' must be in [0, 1]");
  expect_invalid({{"decode_jpeg", {}}, {"detect_people", {{"scale_to_input", "yes"}}}},
                 "parameter 'scale_to_input' must be true or false");
  expect_invalid({{"decode_jpeg", {}}, {"fit_within", {{"upscale", 1}}}},
                 "step 2 (fit_within): parameter 'upscale' must be true or false");
  // A detector takes an image: not the upload's bytes, and nothing can follow its boxes.
  expect_invalid({{"detect_people", {}}}, "takes image but the upload is jpeg_bytes");
  expect_invalid({{"decode_jpeg", {}}, {"detect_people", {}}, {"grayscale", {}}},
                 "step 3 (grayscale): takes image but the previous step produces detections");
}

TEST_F(detector_steps_test, fit_within_keeps_the_aspect_and_only_shrinks_unless_asked) {
  auto jpeg = testing::make_jpeg(600, 400, 3);
  payload data;
  ASSERT_FALSE(
      run({{"decode_jpeg", {}}, {"fit_within", {{"width", 300}, {"height", 300}}}}, jpeg, data));
  EXPECT_EQ(data.image.cols, 300);
  EXPECT_EQ(data.image.rows, 200);
  EXPECT_EQ(data.input_width, 600);
  EXPECT_EQ(data.input_height, 400);

  payload kept;
  ASSERT_FALSE(
      run({{"decode_jpeg", {}}, {"fit_within", {{"width", 1000}, {"height", 1000}}}}, jpeg, kept));
  EXPECT_EQ(kept.image.cols, 600);
  payload grown;
  ASSERT_FALSE(run(
      {{"decode_jpeg", {}}, {"fit_within", {{"width", 1200}, {"height", 1000}, {"upscale", true}}}},
      jpeg, grown));
  EXPECT_EQ(grown.image.cols, 1200);
  EXPECT_EQ(grown.image.rows, 800);
}

TEST_F(detector_steps_test, face_boxes_come_in_the_frame_or_mapped_to_the_upload) {
  auto jpeg = sample_photo_jpeg("messi5.jpg"); // 548x342
  std::vector<step_definition> steps{
      {"decode_jpeg", {}},
      {"fit_within", {{"width", 1096}, {"height", 1096}, {"upscale", true}}}, // twice the size
      {"detect_cascade",
       {{"cascade", "haarcascade_frontalface_default"}, {"min_neighbors", 3}, {"class_id", 2}}}};
  payload in_frame;
  ASSERT_FALSE(run(steps, jpeg, in_frame));
  ASSERT_EQ(in_frame.kind, value_kind::detections);
  ASSERT_FALSE(in_frame.boxes.empty());
  const auto& large = in_frame.boxes.front();
  EXPECT_NEAR(large.top_left_x, 227 * 2, 16);
  EXPECT_NEAR(large.top_left_y, 94 * 2, 16);
  EXPECT_EQ(large.class_id, 2);

  steps[2].params["scale_to_input"] = true;
  payload mapped;
  ASSERT_FALSE(run(steps, jpeg, mapped));
  ASSERT_EQ(mapped.boxes.size(), in_frame.boxes.size());
  // Halved back to the 548x342 upload, to the nearest pixel.
  EXPECT_NEAR(mapped.boxes.front().top_left_x, large.top_left_x / 2.0, 1);
  EXPECT_NEAR(mapped.boxes.front().width, large.width / 2.0, 1);

  // Stored as a list of boxes in the car pipeline's fields, status detected.
  auto stored = output_json(mapped);
  ASSERT_TRUE(stored.is_array());
  ASSERT_EQ(stored.size(), mapped.boxes.size());
  for (auto key : {"top_left_x", "top_left_y", "width", "height", "confidence", "class_id"})
    EXPECT_TRUE(stored[0].contains(key)) << key;
  EXPECT_STREQ(result_status(mapped), "detected");
}

TEST_F(detector_steps_test, a_reduced_decode_still_maps_to_the_full_upload) {
  auto jpeg = sample_photo_jpeg("basketball1.png"); // 640x480, decoded at 1/2 = 320x240
  payload data;
  ASSERT_FALSE(run({{"decode_jpeg", {{"reduce_to_width", 320}}},
                    {"detect_cascade",
                     {{"cascade", "haarcascade_frontalface_default"},
                      {"min_neighbors", 3},
                      {"scale_to_input", true}}}},
                   jpeg, data));
  EXPECT_EQ(data.input_width, 640);
  EXPECT_EQ(data.input_height, 480);
  for (const auto& box : data.boxes) {
    EXPECT_LE(box.top_left_x + box.width, 640);
    EXPECT_LE(box.top_left_y + box.height, 480);
  }
}

TEST_F(detector_steps_test, nothing_found_is_an_empty_list_and_undetected) {
  auto jpeg = testing::make_jpeg(320, 240, 5);
  payload data;
  ASSERT_FALSE(run({{"decode_jpeg", {}}, {"grayscale", {}}, {"detect_people", {}}}, jpeg, data));
  EXPECT_TRUE(data.boxes.empty());
  EXPECT_EQ(output_json(data), nlohmann::json::array());
  EXPECT_STREQ(result_status(data), "undetected");
  EXPECT_TRUE(data.image.empty()); // released once the boxes are out

  payload tiny;
  ASSERT_FALSE(run(
      {{"decode_jpeg", {}}, {"detect_cascade", {{"cascade", "haarcascade_russian_plate_number"}}}},
      testing::make_jpeg(8, 8, 1), tiny));
  EXPECT_TRUE(tiny.boxes.empty());
}

} // namespace
} // namespace imgproc
