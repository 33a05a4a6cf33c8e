#include "core/detector_client.hpp"

#include <gtest/gtest.h>

namespace imgproc {
namespace {

TEST(parse_ml_answer, empty_list_is_nothing_found) {
  auto r = parse_ml_answer("[]");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r.value());
}

TEST(parse_ml_answer, one_box_in_the_standard_format) {
  auto r = parse_ml_answer("[200, 300, 150, 50, 0.83, 1]");
  ASSERT_TRUE(r);
  ASSERT_TRUE(r.value());
  const auto& d = *r.value();
  EXPECT_EQ(d.top_left_x, 200);
  EXPECT_EQ(d.top_left_y, 300);
  EXPECT_EQ(d.width, 150);
  EXPECT_EQ(d.height, 50);
  EXPECT_DOUBLE_EQ(d.confidence, 0.83);
  EXPECT_EQ(d.class_id, 1);
}

TEST(parse_ml_answer, a_list_of_boxes_keeps_the_most_confident) {
  auto r = parse_ml_answer("[[1,2,3,4,0.2,1],[5,6,7,8,0.9,1]]");
  ASSERT_TRUE(r);
  ASSERT_TRUE(r.value());
  EXPECT_EQ(r.value()->top_left_x, 5);
}

TEST(parse_ml_answer, garbage_is_a_bad_response) {
  for (const char* body : {"", "not json", "{}", "[1,2,3]", "[1,2,3,4,5,6]", "[1,2,-3,4,0.5,1]",
                           "[\"a\",2,3,4,0.5,1]", "[1,2,3,4,0.5,1,7]", "[[1,2,3,4,0.5]]"}) {
    auto r = parse_ml_answer(body);
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(r.error().code, error_code::ml_bad_response) << body;
  }
}

TEST(detector_client, unreachable_service_is_ml_unavailable) {
  // Port 1 on loopback: nothing listens there, the connection is refused at once.
  detector_client client{{"http://127.0.0.1:1/ml-process-img",
                          std::chrono::milliseconds(2000),
                          std::chrono::milliseconds(1000),
                          {}}};
  auto r = client.detect("Zm9v", "", std::chrono::milliseconds(0));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, error_code::ml_unavailable);
}

TEST(detector_client, a_step_may_only_call_allowed_urls) {
  detector_settings settings{"http://ml:5000/ml-process-img",
                             std::chrono::milliseconds(100),
                             std::chrono::milliseconds(100),
                             {"http://ml-b:5000/"}};
  EXPECT_TRUE(url_allowed(settings, ""));
  EXPECT_TRUE(url_allowed(settings, "http://ml:5000/ml-process-img"));
  EXPECT_TRUE(url_allowed(settings, "http://ml-b:5000/detect"));
  EXPECT_FALSE(url_allowed(settings, "http://127.0.0.1:8000/tasks/1"));
  detector_client client{settings};
  auto r = client.detect("Zm9v", "http://169.254.169.254/latest", std::chrono::milliseconds(0));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, error_code::step_failed);
}

TEST(parse_ml_answer, refuses_deep_nesting_without_recursing) {
  std::string deep(100000, '[');
  auto r = parse_ml_answer(deep);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, error_code::ml_bad_response);
}

} // namespace
} // namespace imgproc
