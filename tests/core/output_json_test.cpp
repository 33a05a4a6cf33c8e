// How a pipeline's final output is described in the answer and the stored task.

#include "core/payload.hpp"
#include "core/task_json.hpp"

#include <gtest/gtest.h>
#include <opencv2/core.hpp>

namespace imgproc {
namespace {

TEST(output_json, describes_an_image) {
  payload data;
  data.kind = value_kind::image;
  data.image = cv::Mat(48, 64, CV_8UC1, cv::Scalar::all(0));
  EXPECT_EQ(output_json(data),
            (nlohmann::json{{"kind", "image"}, {"width", 64}, {"height", 48}, {"channels", 1}}));
  data.image = cv::Mat(10, 20, CV_8UC3, cv::Scalar::all(0));
  EXPECT_EQ(output_json(data)["channels"], 3);
  EXPECT_STREQ(result_status(data), "processed");
}

TEST(output_json, describes_encoded_bytes_not_their_content) {
  payload data;
  data.kind = value_kind::encoded_bytes;
  data.text = std::string(1234, 'x');
  data.format = "png";
  data.encoded_width = 320;
  data.encoded_height = 240;
  EXPECT_EQ(output_json(data), (nlohmann::json{{"kind", "encoded_bytes"},
                                               {"format", "png"},
                                               {"width", 320},
                                               {"height", 240},
                                               {"bytes", 1234}}));
  EXPECT_STREQ(result_status(data), "processed");
}

TEST(output_json, describes_base64_text) {
  payload data;
  data.kind = value_kind::base64_text;
  data.text = "QUJD";
  EXPECT_EQ(output_json(data), (nlohmann::json{{"kind", "base64_text"}, {"bytes", 4}}));
  EXPECT_STREQ(result_status(data), "processed");
}

TEST(output_json, describes_the_upload_itself) {
  payload data;
  data.bytes = "\xFF\xD8\xFF";
  EXPECT_EQ(output_json(data), (nlohmann::json{{"kind", "jpeg_bytes"}, {"bytes", 3}}));
}

TEST(output_json, a_detection_keeps_the_original_shape) {
  payload data;
  data.kind = value_kind::detection;
  EXPECT_EQ(output_json(data), nlohmann::json::array());
  EXPECT_STREQ(result_status(data), "undetected");
  data.found = detection{200, 300, 150, 50, 0.83, 1};
  EXPECT_EQ(output_json(data), detection_json(data.found));
  EXPECT_FALSE(output_json(data).contains("kind"));
  EXPECT_STREQ(result_status(data), "detected");
}

} // namespace
} // namespace imgproc
