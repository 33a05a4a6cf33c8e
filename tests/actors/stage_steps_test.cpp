// run_stage_steps without actors: the work an image worker or detector client does for one
// message, a run of consecutive steps of a plan.

#include "actors/stages/stage_actor.hpp"
#include "core/jpeg_decoder.hpp"
#include "core/pipeline_plan.hpp"
#include "core/preprocessor.hpp"
#include "tests/support/images.hpp"

#include <gtest/gtest.h>

namespace imgproc {
namespace {

class stage_steps : public ::testing::Test {
protected:
  stage_steps() {
    register_default_steps(registry_);
    resources_.decoder = &decoder_;
    resources_.images = &images_;
  }

  plan_ptr plan(const std::vector<step_definition>& steps) {
    auto planned = plan_pipeline(registry_, 1, "t", steps);
    EXPECT_TRUE(planned) << planned.error().detail;
    return std::make_shared<const pipeline_plan>(std::move(planned.value()));
  }

  payload_ptr upload(int width, int height) {
    auto bytes = std::make_shared<std::string>(testing::make_jpeg(width, height, 3));
    auto data = std::make_shared<payload>();
    data->bytes = *bytes;
    data->owner = std::move(bytes);
    return data;
  }

  stage_set image_stages{stage_kind::decode, stage_kind::transform};
  step_registry registry_;
  jpeg_decoder decoder_;
  preprocessor images_;
  stage_resources resources_;
};

TEST_F(stage_steps, a_run_of_image_steps_is_done_in_one_call) {
  auto steps = plan({{"decode_jpeg", {}},
                     {"resize", {{"width", 64}, {"height", 64}}},
                     {"normalize", {}},
                     {"encode_jpeg", {}},
                     {"base64", {}}});
  stage_job job{steps, 0, upload(120, 90), 5};
  auto out = run_stage_steps(image_stages, resources_, job);
  ASSERT_TRUE(out) << out.error().detail;
  EXPECT_EQ((*out)->kind, value_kind::base64_text);
  EXPECT_EQ((*out)->encoded_width, 64);
  EXPECT_FALSE((*out)->text.empty());
}

TEST_F(stage_steps, only_the_steps_of_the_run_are_done) {
  auto steps = plan({{"decode_jpeg", {}}, {"resize", {{"width", 32}, {"height", 16}}}});
  stage_job job{steps, 0, upload(120, 90), 1};
  auto out = run_stage_steps(image_stages, resources_, job);
  ASSERT_TRUE(out) << out.error().detail;
  EXPECT_EQ((*out)->kind, value_kind::image);
  EXPECT_EQ((*out)->image.cols, 120); // decoded, not yet resized

  stage_job rest{steps, 1, std::move(out.value()), 1};
  auto resized = run_stage_steps(image_stages, resources_, rest);
  ASSERT_TRUE(resized) << resized.error().detail;
  EXPECT_EQ((*resized)->image.cols, 32);
  EXPECT_EQ((*resized)->image.rows, 16);
}

TEST_F(stage_steps, the_first_failing_step_is_named_and_ends_the_run) {
  // The crop lies outside the 120x90 image: step 3 fails, step 4 never runs.
  auto steps = plan({{"decode_jpeg", {}},
                     {"resize", {{"width", 100}, {"height", 80}}},
                     {"crop", {{"x", 90}, {"y", 0}, {"width", 50}, {"height", 10}}},
                     {"encode_jpeg", {}}});
  stage_job job{steps, 0, upload(120, 90), 4};
  auto out = run_stage_steps(image_stages, resources_, job);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().detail.rfind("step 3 (crop): ", 0), 0u) << out.error().detail;
}

TEST_F(stage_steps, a_step_of_another_stage_is_refused_before_any_work) {
  auto steps = plan({{"decode_jpeg", {}},
                     {"resize", {{"width", 64}, {"height", 64}}},
                     {"encode_jpeg", {}},
                     {"base64", {}},
                     {"detect", {}}});
  auto data = upload(120, 90);
  stage_job job{steps, 0, data, 5};
  auto out = run_stage_steps(image_stages, resources_, job);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, error_code::internal);
  EXPECT_EQ(out.error().detail, "step 5 (detect): sent to the wrong stage");
  EXPECT_EQ(data->kind, value_kind::jpeg_bytes) << "no step ran";
}

TEST_F(stage_steps, an_expired_request_is_not_worked_on) {
  auto steps = plan({{"decode_jpeg", {}}, {"resize", {{"width", 64}, {"height", 64}}}});
  auto data = upload(120, 90);
  data->deadline = std::chrono::steady_clock::now() - std::chrono::milliseconds(1);
  stage_job job{steps, 0, data, 2};
  auto out = run_stage_steps(image_stages, resources_, job);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, error_code::deadline_exceeded);
  EXPECT_EQ(out.error().detail.rfind("step 1 (decode_jpeg): ", 0), 0u) << out.error().detail;
  EXPECT_EQ(data->kind, value_kind::jpeg_bytes);
}

TEST_F(stage_steps, a_run_past_the_plan_is_malformed) {
  auto steps = plan({{"decode_jpeg", {}}});
  stage_job job{steps, 0, upload(16, 16), 2};
  auto out = run_stage_steps(image_stages, resources_, job);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().detail, "malformed stage job");
}

} // namespace
} // namespace imgproc
