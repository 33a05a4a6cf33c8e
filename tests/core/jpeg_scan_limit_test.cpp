// The decoder's bounds on work: a progressive JPEG may have as many scans as its encoder likes, and
// each scan is a pass over the whole image; a valid 5 MB file with 704 scans took 10 s to decode.
// The files here are made by libjpeg itself from custom scan scripts, so they are valid JPEGs.

#include "core/jpeg_decoder.hpp"
#include "tests/support/images.hpp"

#include <gtest/gtest.h>

namespace imgproc {
namespace {

using testing::progressive_jpeg;

TEST(jpeg_scan_limit, a_progressive_jpeg_within_the_limit_decodes) {
  auto sixty_six_scans = progressive_jpeg(64, 48, 1);
  auto image = jpeg_decoder{}.decode(sixty_six_scans);
  ASSERT_TRUE(image) << image.error().detail;
  EXPECT_EQ(image->cols, 64);
  EXPECT_EQ(image->rows, 48);
}

TEST(jpeg_scan_limit, more_scans_than_the_limit_are_refused_while_decoding) {
  auto many_scans = progressive_jpeg(64, 48, 3); // 190 scans
  for (auto damaged : {corrupt_data::refuse, corrupt_data::accept}) {
    auto image = jpeg_decoder{}.decode(many_scans, damaged);
    ASSERT_FALSE(image);
    EXPECT_EQ(image.error().code, error_code::undecodable_image);
    EXPECT_NE(image.error().detail.find("more than 100 scans"), std::string::npos)
        << image.error().detail;
  }
  jpeg_decoder_settings generous;
  generous.max_scans = 190;
  EXPECT_TRUE(jpeg_decoder{generous}.decode(many_scans));
  jpeg_decoder_settings strict;
  strict.max_scans = 65;
  auto refused = jpeg_decoder{strict}.decode(progressive_jpeg(64, 48, 1));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().detail.find("more than 65 scans"), std::string::npos);
}

TEST(jpeg_scan_limit, a_passed_deadline_stops_the_decoding_inside_libjpeg) {
  auto image_bytes = progressive_jpeg(512, 512, 1);
  auto passed = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  auto image =
      jpeg_decoder{}.decode(image_bytes, jpeg_reduce_target{}, corrupt_data::refuse, passed);
  ASSERT_FALSE(image);
  EXPECT_EQ(image.error().code, error_code::deadline_exceeded) << image.error().detail;
  auto later = std::chrono::steady_clock::now() + std::chrono::hours(1);
  EXPECT_TRUE(
      jpeg_decoder{}.decode(image_bytes, jpeg_reduce_target{}, corrupt_data::refuse, later));
}

} // namespace
} // namespace imgproc
