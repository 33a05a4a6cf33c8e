#include "core/jpeg_decoder.hpp"
#include "core/pipeline_plan.hpp"
#include "core/preprocessor.hpp"
#include "core/step_registry.hpp"
#include "tests/support/test_images.hpp"

#include <gtest/gtest.h>

namespace imgproc {
namespace {

std::vector<step_definition> car_detection_steps() {
  return {{"decode_jpeg", {}},
          {"resize", {{"width", 640}, {"height", 640}}},
          {"normalize", {{"alpha", 0}, {"beta", 255}}},
          {"encode_jpeg", {{"quality", 95}}},
          {"base64", {}},
          {"detect", {{"timeout_ms", 5000}}}};
}

class step_registry_test : public ::testing::Test {
protected:
  void SetUp() override { register_default_steps(registry); }
  step_registry registry;
};

TEST_F(step_registry_test, registers_every_car_detection_stage_once) {
  for (auto handler : {"decode_jpeg", "resize", "normalize", "encode_jpeg", "base64", "detect"})
    EXPECT_NE(registry.find(handler), nullptr) << handler;
  EXPECT_EQ(registry.find("bogus"), nullptr);
  EXPECT_THROW(
      registry.add(
          {"resize", "", "", stage_kind::transform, value_kind::image, value_kind::image, {}, {}}),
      std::logic_error);
}

TEST_F(step_registry_test, car_detection_pipeline_plans) {
  auto plan = plan_pipeline(registry, 1, "car-detection", car_detection_steps());
  ASSERT_TRUE(plan) << plan.error().detail;
  ASSERT_EQ(plan->steps.size(), 6u);
  EXPECT_EQ(plan->steps[0].kind->stage, stage_kind::decode);
  EXPECT_EQ(plan->steps[1].kind->stage, stage_kind::transform);
  EXPECT_EQ(plan->steps[5].kind->stage, stage_kind::detect);
  // Defaults are filled in.
  EXPECT_EQ(plan->steps[1].params["interpolation"], "linear");
}

TEST_F(step_registry_test, invalid_pipelines_are_refused_naming_the_step) {
  auto expect_invalid = [&](std::vector<step_definition> steps, const std::string& needle) {
    auto plan = plan_pipeline(registry, 7, "t", steps);
    ASSERT_FALSE(plan) << needle;
    EXPECT_EQ(plan.error().code, error_code::invalid_pipeline);
    EXPECT_NE(plan.error().detail.find(needle), std::string::npos) << plan.error().detail;
  };
  expect_invalid({}, "no steps");
  auto steps = car_detection_steps();
  steps[1].handler = "bogus";
  expect_invalid(steps, "step 2 (bogus): unknown handler");
  steps = car_detection_steps();
  steps[1].params["width"] = 0;
  expect_invalid(steps, "step 2 (resize): parameter 'width' must be in");
  steps[1].params["width"] = 100000;
  expect_invalid(steps, "parameter 'width' must be in");
  steps[1].params["width"] = "wide";
  expect_invalid(steps, "parameter 'width' must be an integer");
  steps = car_detection_steps();
  steps[1].params["widht"] = 640;
  expect_invalid(steps, "unknown parameter 'widht'");
  steps = car_detection_steps();
  std::swap(steps[0], steps[1]);
  expect_invalid(steps, "step 1 (resize): takes image but the upload is jpeg_bytes");
  steps = car_detection_steps();
  steps.erase(steps.begin() + 3); // no encode before base64
  expect_invalid(steps, "step 4 (base64): takes encoded_bytes");
}

TEST_F(step_registry_test, a_pipeline_may_end_with_any_output) {
  // Without the detect step the car chain ends with base64 text: still a valid pipeline.
  auto steps = car_detection_steps();
  steps.pop_back();
  auto plan = plan_pipeline(registry, 2, "no-detection", steps);
  ASSERT_TRUE(plan) << plan.error().detail;
  EXPECT_EQ(plan->steps.back().kind->output, value_kind::base64_text);
  // As short as it gets: decoding alone.
  EXPECT_TRUE(plan_pipeline(registry, 3, "decode-only", {{"decode_jpeg", {}}}));
}

TEST_F(step_registry_test, image_steps_run_on_the_payload_in_place) {
  auto plan = plan_pipeline(registry, 1, "car-detection", car_detection_steps());
  ASSERT_TRUE(plan);
  jpeg_decoder decoder;
  preprocessor images;
  stage_resources resources{&decoder, &images, nullptr};
  auto jpeg = testing::gradient_jpeg(300, 200);
  payload data;
  data.bytes = jpeg;
  for (std::size_t i = 0; i < 5; ++i) {
    auto err = plan->steps[i].run(resources, data);
    ASSERT_FALSE(err) << err->detail;
    EXPECT_EQ(data.kind, plan->steps[i].kind->output);
  }
  EXPECT_EQ(data.kind, value_kind::base64_text);
  EXPECT_FALSE(data.text.empty());
}

// PostgreSQL cannot store a NUL in text or jsonb: such a definition failed as "database
// unavailable" (503, Retry-After) when it was written.
TEST_F(step_registry_test, a_nul_character_is_refused_in_parameters_title_and_description) {
  for (
      const char* body :
      {R"({"title":"x","steps":[{"handler":"decode_jpeg"},{"handler":"encode","params":{"format":"p\u0000ng"}}]})",
       R"({"title":"x\u0000","steps":[{"handler":"decode_jpeg"}]})",
       R"({"title":"x","description":"a\u0000b","steps":[{"handler":"decode_jpeg"}]})"}) {
    SCOPED_TRACE(body);
    auto def = parse_pipeline_definition(registry, body);
    ASSERT_FALSE(def);
    EXPECT_NE(def.error().detail.find("NUL"), std::string::npos) << def.error().detail;
  }
}

TEST_F(step_registry_test, the_title_limit_counts_characters) {
  std::string title;
  for (int i = 0; i < 200; ++i)
    title += "\xc3\xa9";
  auto body = [](const std::string& t) {
    return R"({"title":")" + t + R"(","steps":[{"handler":"decode_jpeg"}]})";
  };
  EXPECT_TRUE(parse_pipeline_definition(registry, body(title)));
  EXPECT_FALSE(parse_pipeline_definition(registry, body(title + "x")));
}

TEST(step_checks, the_ml_url_check_applies_when_a_pipeline_is_planned) {
  step_registry registry;
  register_default_steps(registry, nullptr,
                         {[](const std::string& url) -> std::optional<std::string> {
                           if (url.find('@') != std::string::npos)
                             return "names a user";
                           return std::nullopt;
                         }});
  auto steps = car_detection_steps();
  steps.back().params["url"] = "http://a:1@b:2/";
  auto plan = plan_pipeline(registry, 7, "x", steps);
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().detail.find("step 6 (detect): parameter 'url' is refused: names a user"),
            std::string::npos)
      << plan.error().detail;
  steps.back().params["url"] = "http://b:2/";
  EXPECT_TRUE(plan_pipeline(registry, 7, "x", steps));
}

TEST_F(step_registry_test, pipeline_definitions_refuse_deep_nesting_before_parsing) {
  std::string body = R"({"title":"x","steps":[{"handler":"decode_jpeg","params":{"a":)";
  body += std::string(200000, '[') + std::string(200000, ']') + "}}]}";
  auto def = parse_pipeline_definition(registry, body);
  ASSERT_FALSE(def);
  EXPECT_EQ(def.error().code, error_code::bad_request);
  EXPECT_NE(def.error().detail.find("nests deeper"), std::string::npos);
}

} // namespace
} // namespace imgproc
