#include "core/jpeg_decoder.hpp"
#include "tests/support/test_images.hpp"

#include <gtest/gtest.h>

namespace imgproc {
namespace {

TEST(jpeg_decoder, decodes_to_bgr_of_the_declared_size) {
  auto jpeg = testing::gradient_jpeg(320, 200);
  auto header = read_jpeg_header(jpeg);
  ASSERT_TRUE(header);
  EXPECT_EQ(header->width, 320);
  EXPECT_EQ(header->height, 200);
  EXPECT_EQ(header->components, 3);
  auto image = jpeg_decoder{}.decode(jpeg);
  ASSERT_TRUE(image) << image.error().detail;
  EXPECT_EQ(image->cols, 320);
  EXPECT_EQ(image->rows, 200);
  EXPECT_EQ(image->type(), CV_8UC3);
}

TEST(jpeg_decoder, does_not_copy_the_upload_before_decoding) {
  // The decoder only reads through a view; the caller's bytes stay untouched and owned by it.
  auto jpeg = testing::gradient_jpeg(64, 64);
  auto copy = jpeg;
  ASSERT_TRUE(jpeg_decoder{}.decode(std::string_view{jpeg}));
  EXPECT_EQ(jpeg, copy);
}

TEST(jpeg_decoder, refuses_what_is_not_a_jpeg) {
  jpeg_decoder decoder;
  for (std::string bytes :
       {std::string{}, std::string{"hello"}, std::string{"\x89PNG\r\n\x1a\n0000000000", 18}}) {
    auto image = decoder.decode(bytes);
    ASSERT_FALSE(image);
    EXPECT_EQ(image.error().code, error_code::unsupported_media_type);
  }
}

TEST(jpeg_decoder, refuses_declared_dimensions_over_the_limit_before_decoding) {
  auto jpeg = testing::gradient_jpeg(100, 100);
  auto image = jpeg_decoder{{5000, 1}}.decode(jpeg);
  ASSERT_FALSE(image);
  EXPECT_EQ(image.error().code, error_code::image_too_large);
  EXPECT_NE(image.error().detail.find("100x100"), std::string::npos);
}

TEST(jpeg_decoder, refuses_a_tiny_file_declaring_a_huge_frame) {
  // SOI, then a baseline frame header declaring 60000x60000 pixels, then nothing.
  const unsigned char bytes[] = {0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0xEA,
                                 0x60, 0xEA, 0x60, 0x03, 0x01, 0x22, 0x00, 0x02,
                                 0x11, 0x01, 0x03, 0x11, 0x01, 0xFF, 0xD9};
  std::string_view jpeg{reinterpret_cast<const char*>(bytes), sizeof bytes};
  auto header = read_jpeg_header(jpeg);
  ASSERT_TRUE(header);
  EXPECT_EQ(header->width, 60000);
  auto image = jpeg_decoder{}.decode(jpeg);
  ASSERT_FALSE(image);
  EXPECT_EQ(image.error().code, error_code::image_too_large);
}

TEST(jpeg_decoder, refuses_a_jpeg_without_a_frame_header) {
  auto jpeg = testing::gradient_jpeg(32, 32).substr(0, 20); // cut inside the headers
  auto image = jpeg_decoder{}.decode(jpeg);
  ASSERT_FALSE(image);
  EXPECT_EQ(image.error().code, error_code::undecodable_image);
}

TEST(jpeg_decoder, refuses_corrupt_entropy_data) {
  auto jpeg = testing::gradient_jpeg(64, 64);
  auto header_end = jpeg.find("\xFF\xDA"); // start of scan
  ASSERT_NE(header_end, std::string::npos);
  std::string corrupt = jpeg.substr(0, header_end) + std::string(8, '\xFF') + "\xFF\xD9";
  auto image = jpeg_decoder{}.decode(corrupt);
  ASSERT_FALSE(image);
  EXPECT_EQ(image.error().code, error_code::undecodable_image);
}

} // namespace
} // namespace imgproc
