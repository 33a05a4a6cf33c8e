// The request budget (core/request_budget.hpp): sized from the plan and the JPEG header alone,
// before any work, and refused naming the step.

#include "core/request_budget.hpp"
#include "core/step_registry.hpp"
#include "tests/support/test_images.hpp"

#include <gtest/gtest.h>

namespace imgproc {
namespace {

class request_budget_test : public ::testing::Test {
protected:
  void SetUp() override { register_default_steps(registry); }

  pipeline_plan plan(std::vector<step_definition> steps) {
    auto planned = plan_pipeline(registry, 1, "t", steps);
    EXPECT_TRUE(planned) << (planned ? "" : planned.error().detail);
    return planned ? std::move(planned.value()) : pipeline_plan{};
  }

  step_registry registry;
};

TEST_F(request_budget_test, every_step_kind_has_a_rule) {
  for (const auto* kind : registry.kinds())
    EXPECT_TRUE(has_budget_rule(kind->handler)) << kind->handler;
}

TEST_F(request_budget_test, the_car_chain_costs_its_images) {
  auto upload = testing::gradient_jpeg(1280, 960);
  auto car = plan({{"decode_jpeg", {}},
                   {"resize", {{"width", 640}, {"height", 640}}},
                   {"normalize", {}},
                   {"encode_jpeg", {}},
                   {"base64", {}},
                   {"detect", {}}});
  auto estimate = plan_budget(car, upload, budget_limits{});
  ASSERT_TRUE(estimate) << estimate.error().detail;
  // The decoded upload and its resized copy, at the resize step.
  EXPECT_EQ(estimate->peak_bytes, 1280u * 960 * 3 + 640u * 640 * 3);
  EXPECT_EQ(estimate->largest_image_pixels, 1280u * 960);
  EXPECT_EQ(estimate->detector_work, 0u);
}

// The finding: a 73 KB photo fitted into 16384x16384 with upscale, then a cascade, took 9 GB.
TEST_F(request_budget_test, an_upscaled_cascade_is_refused_before_any_work) {
  auto upload = testing::gradient_jpeg(640, 480);
  auto bomb = plan({{"decode_jpeg", {}},
                    {"fit_within", {{"width", 16384}, {"height", 16384}, {"upscale", true}}},
                    {"detect_cascade", {{"cascade", "haarcascade_frontalface_default"}}}});
  auto estimate = plan_budget(bomb, upload, budget_limits{});
  ASSERT_FALSE(estimate);
  EXPECT_EQ(estimate.error().code, error_code::image_too_large);
  EXPECT_NE(estimate.error().detail.find("step 2 (fit_within)"), std::string::npos)
      << estimate.error().detail;
  EXPECT_NE(estimate.error().detail.find("16384x12288"), std::string::npos)
      << estimate.error().detail;

  // Within the pixel limit, the cascade's pyramid is what is too much.
  budget_limits roomy;
  roomy.max_image_pixels = 1ull << 40;
  roomy.max_request_bytes = 1ull << 40;
  auto work = plan_budget(bomb, upload, roomy);
  ASSERT_FALSE(work);
  EXPECT_EQ(work.error().code, error_code::step_failed);
  EXPECT_NE(work.error().detail.find("step 3 (detect_cascade)"), std::string::npos)
      << work.error().detail;
  EXPECT_NE(work.error().detail.find("--max-detector-work"), std::string::npos);
}

TEST_F(request_budget_test, the_bytes_held_at_once_are_bounded) {
  auto upload = testing::gradient_jpeg(640, 480);
  // 6000x6000x3 = 108 MB per image: the flip holds two of them.
  auto big =
      plan({{"decode_jpeg", {}}, {"resize", {{"width", 6000}, {"height", 6000}}}, {"flip", {}}});
  budget_limits limits;
  limits.max_request_bytes = 200ull << 20;
  auto estimate = plan_budget(big, upload, limits);
  ASSERT_FALSE(estimate);
  EXPECT_EQ(estimate.error().code, error_code::image_too_large);
  EXPECT_NE(estimate.error().detail.find("step 3 (flip)"), std::string::npos)
      << estimate.error().detail;
  EXPECT_NE(estimate.error().detail.find("--max-request-bytes"), std::string::npos);
  limits.max_request_bytes = 300ull << 20;
  EXPECT_TRUE(plan_budget(big, upload, limits));
}

TEST_F(request_budget_test, shapes_follow_the_steps) {
  auto upload = testing::gradient_jpeg(400, 200);
  auto turned = plan({{"decode_jpeg", {}},
                      {"rotate", {{"degrees", 90}}},
                      {"fit_within", {{"width", 100}, {"height", 100}}},
                      {"grayscale", {}},
                      {"encode", {{"format", "png"}}}});
  auto estimate = plan_budget(turned, upload, budget_limits{});
  ASSERT_TRUE(estimate) << estimate.error().detail;
  // Rotated 200x400, fitted 50x100, one channel: the peak is the decode and the turn.
  EXPECT_EQ(estimate->peak_bytes, 2u * 400 * 200 * 3);

  // A detector on a small image: its work is its pyramid's pixels, a few times the image's.
  auto people = plan({{"decode_jpeg", {}}, {"detect_people", {}}});
  auto detected = plan_budget(people, testing::gradient_jpeg(640, 480), budget_limits{});
  ASSERT_TRUE(detected) << detected.error().detail;
  EXPECT_GT(detected->detector_work, 672u * 512);
  EXPECT_LT(detected->detector_work, 672u * 512 * 12);
}

TEST_F(request_budget_test, an_unreadable_header_is_left_to_the_decoder) {
  // The decoder refuses it as the first step, and that failure is stored on the task naming it.
  auto steps = plan({{"decode_jpeg", {}}, {"resize", {{"width", 16000}, {"height", 16000}}}});
  auto estimate = plan_budget(steps, "not a jpeg", budget_limits{});
  ASSERT_TRUE(estimate);
  EXPECT_EQ(estimate->peak_bytes, 0u);
}

} // namespace
} // namespace imgproc
