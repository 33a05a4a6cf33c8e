#include "http/upload_parser.hpp"
#include "tests/support/test_images.hpp"

#include <gtest/gtest.h>

namespace imgproc {
namespace {

const std::string boundary = "XyZzY123";
const std::string content_type = "multipart/form-data; boundary=" + boundary;

std::string part(const std::string& name, const std::string& body,
                 const std::string& filename = "") {
  std::string out = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"";
  if (!filename.empty())
    out += "; filename=\"" + filename + "\"\r\nContent-Type: image/jpeg";
  return out + "\r\n\r\n" + body + "\r\n";
}

std::string close() {
  return "--" + boundary + "--\r\n";
}

TEST(upload_parser, reads_the_image_and_the_query_id_without_copying) {
  auto jpeg = testing::gradient_jpeg(32, 32);
  auto body = part("image_file", jpeg, "a.jpg") + close();
  auto upload = parse_process_upload(content_type, body, std::string_view{"1"});
  ASSERT_TRUE(upload) << upload.error().detail;
  EXPECT_EQ(upload->pipeline_id, 1);
  EXPECT_EQ(upload->filename, "a.jpg");
  EXPECT_EQ(upload->image, jpeg);
  // A view into the body, not a copy.
  EXPECT_GE(upload->image.data(), body.data());
  EXPECT_LE(upload->image.data() + upload->image.size(), body.data() + body.size());
}

TEST(upload_parser, reads_the_id_from_a_form_field) {
  auto body = part("pipeline_id", "7") + part("image_file", testing::gradient_jpeg(8, 8), "b.jpg") +
              close();
  auto upload = parse_process_upload(content_type, body, std::nullopt);
  ASSERT_TRUE(upload) << upload.error().detail;
  EXPECT_EQ(upload->pipeline_id, 7);
}

TEST(upload_parser, every_malformed_request_is_a_400) {
  auto jpeg = testing::gradient_jpeg(8, 8);
  auto expect_bad = [](std::string_view type, const std::string& body,
                       std::optional<std::string_view> id, const std::string& needle) {
    auto upload = parse_process_upload(type, body, id);
    ASSERT_FALSE(upload) << needle;
    EXPECT_EQ(upload.error().code, error_code::bad_request) << upload.error().detail;
    EXPECT_NE(upload.error().detail.find(needle), std::string::npos) << upload.error().detail;
  };
  auto ok_body = part("image_file", jpeg, "a.jpg") + close();
  expect_bad(content_type, ok_body, std::nullopt, "pipeline_id is required");
  expect_bad(content_type, ok_body, std::string_view{"abc"}, "positive integer");
  expect_bad(content_type, ok_body, std::string_view{"0"}, "positive integer");
  expect_bad(content_type, part("other", "x") + close(), std::string_view{"1"},
             "image_file is required");
  expect_bad(content_type,
             part("image_file", jpeg, "a.jpg") + part("image_file", jpeg, "b.jpg") + close(),
             std::string_view{"1"}, "more than once");
  expect_bad(content_type, part("image_file", "", "a.jpg") + close(), std::string_view{"1"},
             "empty");
  expect_bad("application/json", "{}", std::string_view{"1"}, "multipart/form-data");
  expect_bad("multipart/form-data", ok_body, std::string_view{"1"}, "boundary");
  expect_bad(content_type, "garbage without boundaries", std::string_view{"1"}, "multipart");
  expect_bad(content_type, part("pipeline_id", "2") + part("image_file", jpeg, "a.jpg") + close(),
             std::string_view{"1"}, "differs");
}

TEST(upload_parser, a_file_that_is_not_a_jpeg_is_a_415) {
  auto body = part("image_file", "\x89PNG\r\n\x1a\n not really", "a.jpg") + close();
  auto upload = parse_process_upload(content_type, body, std::string_view{"1"});
  ASSERT_FALSE(upload);
  EXPECT_EQ(upload.error().code, error_code::unsupported_media_type);
}

TEST(upload_parser, file_names_are_sanitized) {
  auto body = part("image_file", testing::gradient_jpeg(8, 8), "../../x/evil.jpg") + close();
  auto upload = parse_process_upload(content_type, body, std::string_view{"1"});
  ASSERT_TRUE(upload);
  EXPECT_EQ(upload->filename, "evil.jpg");
}

// Browsers send a path's backslashes as they are; read as quoted-string escapes, `C:\x\y.jpg`
// became `C:xy.jpg`. Only a backslash before a quote is an escape.
TEST(upload_parser, a_windows_path_keeps_its_last_part) {
  for (const std::string& sent : {std::string{"C:\\x\\y.jpg"}, std::string{"y.jpg"},
                                  std::string{"C:\\Users\\me\\My \\\"car\\\".jpg"}}) {
    SCOPED_TRACE(sent);
    auto body = part("image_file", testing::gradient_jpeg(8, 8), sent) + close();
    auto upload = parse_process_upload(content_type, body, std::string_view{"1"});
    ASSERT_TRUE(upload);
    EXPECT_EQ(upload->filename, sent.find("car") != std::string::npos ? "My \"car\".jpg" : "y.jpg");
  }
}

} // namespace
} // namespace imgproc
