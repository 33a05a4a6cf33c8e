// The service's own JPEG decoding and encoding (libjpeg-turbo straight to and from BGR,
// core/jpeg_decoder.cpp, core/jpeg_encoder.cpp) against OpenCV 4.6's cv::imdecode and
// cv::imencode, which the original service uses: the same pixels for every sample photo of
// Debian's opencv-doc, the benchmark image sets, the fuzz corpus, a grey JPEG, reduced scales and
// every EXIF orientation; the same bytes for every image encoded. And the strict refusal of
// damaged data, which cv::imdecode decodes with the missing part grey.

#include "bench/bench_images.hpp"
#include "core/jpeg_decoder.hpp"
#include "core/jpeg_encoder.hpp"

#include <algorithm>
#include <cstdio> // jpeglib.h needs FILE
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <jpeglib.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace imgproc {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

cv::Mat opencv_decode(const std::string& jpeg, int flags = cv::IMREAD_COLOR) {
  std::vector<unsigned char> bytes(jpeg.begin(), jpeg.end());
  return cv::imdecode(bytes, flags);
}

std::string encode(const cv::Mat& image, int quality = 90) {
  std::vector<unsigned char> out;
  cv::imencode(".jpg", image, out, {cv::IMWRITE_JPEG_QUALITY, quality});
  return {out.begin(), out.end()};
}

/// Fails the test unless both decoders agree exactly on `jpeg` (or both refuse it).
void expect_same_pixels(const std::string& jpeg, const std::string& what,
                        jpeg_reduce_target target = {}, int opencv_flags = cv::IMREAD_COLOR) {
  auto expected = opencv_decode(jpeg, opencv_flags);
  auto ours = jpeg_decoder{}.decode(jpeg, target, corrupt_data::accept);
  if (expected.empty()) {
    EXPECT_FALSE(ours) << what << ": OpenCV refuses it, the service decoded it";
    return;
  }
  ASSERT_TRUE(ours) << what << ": " << ours.error().detail;
  ASSERT_EQ(ours->size(), expected.size()) << what;
  ASSERT_EQ(ours->type(), expected.type()) << what;
  EXPECT_EQ(cv::norm(*ours, expected, cv::NORM_INF), 0) << what;
}

std::vector<fs::path> files_in(const fs::path& dir, const std::string& extension) {
  std::vector<fs::path> out;
  if (fs::is_directory(dir))
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.path().extension() == extension)
        out.push_back(entry.path());
  return out;
}

TEST(jpeg_codec_identity, every_opencv_doc_photo_decodes_to_the_same_pixels) {
  auto photos = files_in(bench::photo_dir(), ".jpg");
  if (photos.empty())
    GTEST_SKIP() << "opencv-doc is not installed (scripts/setup installs it)";
  for (const auto& photo : photos)
    expect_same_pixels(read_file(photo), photo.filename().string());
  EXPECT_GE(photos.size(), 50u);
}

TEST(jpeg_codec_identity, the_benchmark_sets_decode_to_the_same_pixels_at_every_scale) {
  for (const auto& size : bench::image_set_sizes())
    for (const auto& jpeg : bench::make_image_set(size.width, size.height)) {
      expect_same_pixels(jpeg, size.name);
      expect_same_pixels(jpeg, size.name + " at 1/2", {size.width / 2, size.height / 2},
                         cv::IMREAD_REDUCED_COLOR_2);
      expect_same_pixels(jpeg, size.name + " at 1/4", {size.width / 4, size.height / 4},
                         cv::IMREAD_REDUCED_COLOR_4);
    }
}

TEST(jpeg_codec_identity, the_fuzz_corpus_decodes_to_the_same_pixels) {
  auto inputs = files_in(fs::path{IMGPROC_SOURCE_DIR} / "fuzz/corpus/fuzz_jpeg", ".jpg");
  ASSERT_FALSE(inputs.empty());
  for (const auto& input : inputs)
    expect_same_pixels(read_file(input), input.filename().string());
}

TEST(jpeg_codec_identity, a_grey_jpeg_decodes_to_three_equal_channels_as_opencv_does) {
  cv::Mat grey(48, 64, CV_8UC1);
  cv::randu(grey, 0, 255);
  expect_same_pixels(encode(grey), "grey");
}

/// `jpeg` with an APP1 Exif segment (big-endian TIFF, one IFD entry: orientation) after SOI.
std::string with_orientation(const std::string& jpeg, int orientation) {
  std::string tiff = {'M',  'M',
                      0,    0x2A,
                      0,    0,
                      0,    8, // header, IFD at 8
                      0,    1, // one entry
                      0x01, 0x12,
                      0,    3,
                      0,    0,
                      0,    1, // orientation, SHORT, count 1
                      0,    static_cast<char>(orientation),
                      0,    0, // value
                      0,    0,
                      0,    0}; // no next IFD
  std::string payload = std::string("Exif\0\0", 6) + tiff;
  auto length = payload.size() + 2;
  std::string segment = {static_cast<char>(0xFF), static_cast<char>(0xE1),
                         static_cast<char>(length >> 8), static_cast<char>(length & 0xFF)};
  return jpeg.substr(0, 2) + segment + payload + jpeg.substr(2);
}

/// A four-channel JPEG written by libjpeg itself (OpenCV cannot write one): `image`'s BGR as
/// inverted CMYK with a varying K channel, stored as CMYK or YCCK with Adobe's marker, as
/// Photoshop writes them.
std::string four_channel_jpeg(const cv::Mat& bgr, J_COLOR_SPACE stored_as) {
  std::vector<unsigned char> cmyk(static_cast<std::size_t>(bgr.cols) * bgr.rows * 4);
  for (int y = 0; y < bgr.rows; ++y)
    for (int x = 0; x < bgr.cols; ++x) {
      const auto& pixel = bgr.at<cv::Vec3b>(y, x);
      auto* out = &cmyk[(static_cast<std::size_t>(y) * bgr.cols + x) * 4];
      out[0] = pixel[2];
      out[1] = pixel[1];
      out[2] = pixel[0];
      out[3] = static_cast<unsigned char>(128 + (x + y) % 128);
    }
  jpeg_compress_struct cinfo;
  jpeg_error_mgr err;
  cinfo.err = jpeg_std_error(&err);
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = static_cast<JDIMENSION>(bgr.cols);
  cinfo.image_height = static_cast<JDIMENSION>(bgr.rows);
  cinfo.input_components = 4;
  cinfo.in_color_space = JCS_CMYK;
  jpeg_set_defaults(&cinfo);
  jpeg_set_colorspace(&cinfo, stored_as);
  jpeg_set_quality(&cinfo, 90, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = &cmyk[static_cast<std::size_t>(cinfo.next_scanline) * bgr.cols * 4];
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::string out(reinterpret_cast<const char*>(buffer), size);
  std::free(buffer);
  return out;
}

TEST(jpeg_codec_identity, cmyk_and_ycck_jpegs_decode_to_the_same_pixels) {
  auto photo = jpeg_decoder{}.decode(bench::make_image_set(640, 480).front());
  ASSERT_TRUE(photo) << photo.error().detail;
  for (auto stored_as : {JCS_CMYK, JCS_YCCK}) {
    auto jpeg = four_channel_jpeg(*photo, stored_as);
    auto what = std::string{stored_as == JCS_CMYK ? "CMYK" : "YCCK"};
    ASSERT_EQ(read_jpeg_header(jpeg)->components, 4) << what;
    expect_same_pixels(jpeg, what);
    expect_same_pixels(jpeg, what + " at 1/2", {320, 240}, cv::IMREAD_REDUCED_COLOR_2);
    expect_same_pixels(with_orientation(jpeg, 6), what + " rotated");
    // The own path, not OpenCV's: a strictly decoded CMYK file works too.
    EXPECT_TRUE(jpeg_decoder{}.decode(jpeg, corrupt_data::refuse)) << what;
  }
}

TEST(jpeg_codec_identity, every_exif_orientation_is_applied_as_opencv_applies_it) {
  cv::Mat image(30, 40, CV_8UC3);
  cv::randu(image, 0, 255);
  auto jpeg = encode(image);
  for (int orientation = 1; orientation <= 8; ++orientation) {
    auto rotated = with_orientation(jpeg, orientation);
    EXPECT_EQ(jpeg_exif_orientation(rotated), orientation);
    expect_same_pixels(rotated, "orientation " + std::to_string(orientation));
  }
  auto upright = jpeg_decoder{}.decode(with_orientation(jpeg, 6));
  ASSERT_TRUE(upright);
  EXPECT_EQ(upright->cols, 30) << "orientation 6 turns the 40x30 image to 30x40";
  EXPECT_EQ(jpeg_exif_orientation(jpeg), 1);
}

/// Fails the test unless the service's encoder writes exactly cv::imencode's bytes.
void expect_same_bytes(const cv::Mat& image, int quality, const std::string& what) {
  std::vector<unsigned char> expected;
  ASSERT_TRUE(cv::imencode(".jpg", image, expected, {cv::IMWRITE_JPEG_QUALITY, quality}));
  std::string ours, problem;
  ASSERT_TRUE(encode_jpeg(image, quality, ours, problem)) << what << ": " << problem;
  ASSERT_EQ(ours.size(), expected.size()) << what << " at quality " << quality;
  EXPECT_TRUE(
      std::equal(ours.begin(), ours.end(), expected.begin(),
                 [](char a, unsigned char b) { return static_cast<unsigned char>(a) == b; }))
      << what << " at quality " << quality;
}

TEST(jpeg_codec_identity, the_car_chain_inputs_encode_to_the_same_bytes) {
  // What the car pipeline encodes: each benchmark image resized to 640x640 and normalized.
  for (const auto& size : bench::image_set_sizes())
    for (const auto& jpeg : bench::make_image_set(size.width, size.height)) {
      auto image = jpeg_decoder{}.decode(jpeg);
      ASSERT_TRUE(image);
      cv::Mat resized, normalized;
      cv::resize(*image, resized, {640, 640}, 0, 0, cv::INTER_LINEAR);
      cv::normalize(resized, normalized, 0, 255, cv::NORM_MINMAX, CV_8U);
      expect_same_bytes(normalized, 95, size.name);
    }
}

TEST(jpeg_codec_identity, every_quality_odd_sizes_grey_and_views_encode_to_the_same_bytes) {
  cv::Mat image(77, 131, CV_8UC3);
  cv::RNG{3}.fill(image, cv::RNG::UNIFORM, 0, 255);
  cv::GaussianBlur(image, image, {7, 7}, 3);
  for (int quality : {0, 1, 50, 75, 90, 95, 100, 120})
    expect_same_bytes(image, quality, "77x131");
  cv::Mat grey;
  cv::cvtColor(image, grey, cv::COLOR_BGR2GRAY);
  expect_same_bytes(grey, 95, "grey");
  expect_same_bytes(image(cv::Rect(5, 7, 60, 50)), 95, "a view into a larger image");
  cv::Mat bgra, wide, bright_float;
  cv::cvtColor(image, bgra, cv::COLOR_BGR2BGRA);
  expect_same_bytes(bgra, 90, "BGRA");
  image.convertTo(wide, CV_16UC3, 2.0); // saturates when made 8-bit again
  expect_same_bytes(wide, 90, "16-bit");
  image.convertTo(bright_float, CV_32FC3, 1.5, -20.0);
  expect_same_bytes(bright_float, 90, "float");
  std::string out, problem;
  EXPECT_FALSE(encode_jpeg(cv::Mat{}, 95, out, problem));
  EXPECT_FALSE(problem.empty());
  EXPECT_FALSE(encode_jpeg(cv::Mat(8, 8, CV_8UC2, cv::Scalar::all(1)), 95, out, problem));
  EXPECT_NE(problem.find("channels"), std::string::npos) << problem;
}

std::string photo_jpeg() {
  cv::Mat image(120, 160, CV_8UC3);
  cv::RNG{7}.fill(image, cv::RNG::UNIFORM, 0, 255); // the same image whatever ran before
  cv::GaussianBlur(image, image, {5, 5}, 2);
  return encode(image);
}

TEST(jpeg_strict_decode, data_ending_early_is_refused_naming_the_defect) {
  auto jpeg = photo_jpeg();
  auto cut = jpeg.substr(0, jpeg.size() * 6 / 10);
  ASSERT_FALSE(opencv_decode(cut).empty()) << "OpenCV decodes it with the rest grey";
  auto refused = jpeg_decoder{}.decode(cut);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, error_code::undecodable_image);
  EXPECT_NE(refused.error().detail.find("Premature end of JPEG file"), std::string::npos)
      << refused.error().detail;
  // Accepted on request: the rows before the cut as cv::imdecode decodes them, the rest grey.
  auto accepted = jpeg_decoder{}.decode(cut, corrupt_data::accept);
  ASSERT_TRUE(accepted) << accepted.error().detail;
  auto opencv = opencv_decode(cut);
  ASSERT_EQ(accepted->size(), opencv.size());
  int same_rows = 0;
  while (same_rows < opencv.rows &&
         cv::norm(accepted->row(same_rows), opencv.row(same_rows), cv::NORM_INF) == 0)
    ++same_rows;
  EXPECT_GE(same_rows, opencv.rows / 4) << "the decoded top part is OpenCV's";
  EXPECT_LT(same_rows, opencv.rows) << "the cut shows";
  cv::Mat last_row = accepted->row(accepted->rows - 1);
  EXPECT_EQ(cv::norm(last_row, cv::Mat(last_row.size(), last_row.type(), cv::Scalar::all(128)),
                     cv::NORM_INF),
            0)
      << "what is missing is mid-grey";
}

TEST(jpeg_strict_decode, a_corrupt_segment_is_refused_naming_the_defect) {
  auto jpeg = photo_jpeg();
  // Three stray bytes between the JFIF segment (SOI + APP0: 20 bytes) and the next marker.
  ASSERT_EQ(static_cast<unsigned char>(jpeg[20]), 0xFF);
  auto damaged = jpeg.substr(0, 20) + "xyz" + jpeg.substr(20);
  ASSERT_FALSE(opencv_decode(damaged).empty());
  auto refused = jpeg_decoder{}.decode(damaged);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().detail.find("Corrupt JPEG data: 3 extraneous bytes before marker"),
            std::string::npos)
      << refused.error().detail;
  expect_same_pixels(damaged, "extraneous bytes");
}

TEST(jpeg_strict_decode, bad_scan_data_is_refused_naming_the_defect) {
  auto jpeg = photo_jpeg();
  auto scan = jpeg.find(std::string{static_cast<char>(0xFF), static_cast<char>(0xDA)});
  ASSERT_NE(scan, std::string::npos);
  auto damaged = jpeg;
  // A restart marker in the middle of entropy-coded data that has no restart interval.
  damaged[scan + 200] = static_cast<char>(0xFF);
  damaged[scan + 201] = static_cast<char>(0xD3);
  auto refused = jpeg_decoder{}.decode(damaged);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, error_code::undecodable_image);
  EXPECT_NE(refused.error().detail.find("damaged JPEG"), std::string::npos)
      << refused.error().detail;
}

TEST(jpeg_strict_decode, an_intact_jpeg_is_not_refused) {
  EXPECT_TRUE(jpeg_decoder{}.decode(photo_jpeg()));
}

} // namespace
} // namespace imgproc
