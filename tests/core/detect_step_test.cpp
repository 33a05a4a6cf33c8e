// The detect step's time limits against an ML service that never answers (a fake: a real
// ml_mock cannot be told to hang). Which limit ran out decides the error: the service's own
// timeout is the ML service's fault (502), the request's deadline is the request's (504).

#include "core/detector_client.hpp"
#include "core/payload.hpp"
#include "core/step_registry.hpp"
#include "http/api_json.hpp"
#include "tests/support/fake_ml.hpp"

#include <gtest/gtest.h>

namespace imgproc {
namespace {

using namespace std::chrono_literals;

status run_detect(const std::string& url, std::chrono::milliseconds step_timeout,
                  std::chrono::milliseconds deadline_in) {
  step_registry registry;
  register_default_steps(registry);
  const auto* kind = registry.find("detect");
  EXPECT_NE(kind, nullptr);
  auto params = validate_params(*kind, {{"timeout_ms", step_timeout.count()}});
  EXPECT_TRUE(params);
  detector_client client{{url, 10000ms, 1000ms, {}}};
  stage_resources resources;
  resources.detector = &client;
  payload data;
  data.kind = value_kind::base64_text;
  data.text = "Zm9v";
  data.deadline = std::chrono::steady_clock::now() + deadline_in;
  return kind->make(params.value())(resources, data);
}

TEST(detect_step, the_ml_services_own_timeout_is_a_502) {
  testing::silent_server hung;
  auto failed = run_detect(hung.url(), 100ms, 10s);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->code, error_code::ml_timeout) << failed->detail;
}

TEST(detect_step, the_requests_deadline_is_a_504_even_when_it_cuts_the_ml_call) {
  testing::silent_server hung;
  auto failed = run_detect(hung.url(), 10000ms, 100ms);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->code, error_code::deadline_exceeded) << failed->detail;
  EXPECT_EQ(http_status(failed->code), 504);
}

} // namespace
} // namespace imgproc
