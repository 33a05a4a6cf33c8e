#include "core/task_json.hpp"
#include "core/upload.hpp"
#include "http/api_json.hpp"

#include <gtest/gtest.h>

namespace imgproc {
namespace {

TEST(parse_pipeline_id, accepts_positive_integers_only) {
  EXPECT_EQ(parse_pipeline_id("1").value(), 1);
  EXPECT_EQ(parse_pipeline_id("2147483647").value(), 2147483647);
  for (const char* bad : {"", "0", "-1", "+1", " 1", "1 ", "1.0", "abc", "2147483648",
                          "99999999999999999999", "0x10"})
    EXPECT_FALSE(parse_pipeline_id(bad)) << bad;
  EXPECT_EQ(parse_pipeline_id("abc").error().code, error_code::bad_request);
}

TEST(sanitize_filename, keeps_the_base_name_only) {
  EXPECT_EQ(sanitize_filename("a.jpg"), "a.jpg");
  EXPECT_EQ(sanitize_filename("../../etc/passwd"), "passwd");
  EXPECT_EQ(sanitize_filename("C:\\Users\\x\\car.jpg"), "car.jpg");
  EXPECT_EQ(sanitize_filename(""), "upload.jpg");
  EXPECT_EQ(sanitize_filename("dir/"), "upload.jpg");
  EXPECT_EQ(sanitize_filename(".."), "upload.jpg");
}

TEST(sanitize_filename, removes_control_characters_and_repairs_utf8) {
  EXPECT_EQ(sanitize_filename(std::string{"a\nb\r\0c.jpg", 10}), "abc.jpg");
  EXPECT_EQ(sanitize_filename("машина.jpg"), "машина.jpg");
  EXPECT_EQ(sanitize_filename("a\xFF.jpg"), "a\xEF\xBF\xBD.jpg");
  EXPECT_LE(sanitize_filename(std::string(1000, 'x')).size(), 255u);
  // Whatever comes in, the result serializes as JSON.
  EXPECT_NO_THROW(error_body(sanitize_filename("\xC3\x28\xA0\xA1")).dump());
}

TEST(task_json, has_exactly_the_original_shape) {
  detection d{200, 300, 150, 50, 0.83, 1};
  auto body = task_response(23, 1, detection_status(d), "a.jpg", detection_json(d));
  EXPECT_EQ(to_text(body),
            R"({"id":23,"pipeline_id":1,"status":"detected","filename":"a.jpg","data":)"
            R"({"top_left_x":200,"top_left_y":300,"width":150,"height":50,"confidence":0.83,)"
            R"("class_id":1}})");
  auto none =
      task_response(24, 1, detection_status(std::nullopt), "b.jpg", detection_json(std::nullopt));
  EXPECT_EQ(none["status"], "undetected");
  EXPECT_EQ(none["data"], nlohmann::ordered_json::array());
}

} // namespace
} // namespace imgproc
