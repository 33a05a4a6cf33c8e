#include "tests/support/images.hpp"

#include <cstdio> // jpeglib.h needs FILE
#include <cstdlib>
#include <fstream>
#include <jpeglib.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace imgproc::testing {

std::string sample_photo_dir() {
  const char* chosen = std::getenv("IMGPROC_SAMPLE_PHOTOS");
  std::string dir = chosen && *chosen ? chosen : "/usr/share/doc/opencv-doc/examples/data";
  if (dir.back() != '/')
    dir += '/';
  return dir;
}

std::string sample_photo_path() {
  return sample_photo_dir() + "licenseplate_motion.jpg";
}
namespace {

cv::Mat make_pattern(int width, int height, int seed) {
  cv::Mat image(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      image.at<cv::Vec3b>(y, x) =
          cv::Vec3b(static_cast<uchar>((x * 255) / std::max(1, width - 1)),
                    static_cast<uchar>((y * 255) / std::max(1, height - 1)),
                    static_cast<uchar>(((x / 16 + y / 16 + seed) % 2) * 200));
  // A seed-placed rectangle, so different seeds give visibly different images.
  std::mt19937 engine{static_cast<std::mt19937::result_type>(seed)};
  int rx = static_cast<int>(engine() % static_cast<unsigned>(std::max(1, width / 2)));
  int ry = static_cast<int>(engine() % static_cast<unsigned>(std::max(1, height / 2)));
  cv::rectangle(image, {rx, ry, std::max(1, width / 4), std::max(1, height / 4)},
                cv::Scalar(engine() % 256, engine() % 256, engine() % 256), cv::FILLED);
  return image;
}

std::string encode(const cv::Mat& image, const std::string& extension,
                   const std::vector<int>& params) {
  std::vector<uchar> bytes;
  if (!cv::imencode(extension, image, bytes, params))
    throw std::runtime_error("cv::imencode(" + extension + ") failed");
  return std::string(bytes.begin(), bytes.end());
}

/// The offset just past the frame header (SOF0) segment of a baseline JPEG.
std::size_t end_of_frame_header(const std::string& jpeg, std::size_t& sof) {
  std::size_t pos = 2;
  for (;;) {
    if (pos + 4 > jpeg.size() || static_cast<unsigned char>(jpeg[pos]) != 0xFF)
      throw std::runtime_error("unexpected JPEG layout: no baseline frame header");
    auto marker = static_cast<unsigned char>(jpeg[pos + 1]);
    std::size_t length = (static_cast<unsigned char>(jpeg[pos + 2]) << 8) |
                         static_cast<unsigned char>(jpeg[pos + 3]);
    sof = pos;
    pos += 2 + length;
    if (marker == 0xC0)
      return pos;
  }
}

} // namespace

std::string sample_photo_jpeg(const std::string& name) {
  cv::Mat image = cv::imread(sample_photo_dir() + name, cv::IMREAD_COLOR);
  if (image.empty())
    throw std::runtime_error("cannot read " + sample_photo_dir() + name +
                             " (Debian package opencv-doc)");
  return encode(image, ".jpg", {cv::IMWRITE_JPEG_QUALITY, 95});
}

std::string make_jpeg(int width, int height, int seed, int quality) {
  return encode(make_pattern(width, height, seed), ".jpg", {cv::IMWRITE_JPEG_QUALITY, quality});
}

std::string make_png(int width, int height, int seed) {
  return encode(make_pattern(width, height, seed), ".png", {});
}

std::string make_undecodable_jpeg(int width, int height, int seed, std::size_t garbage_bytes) {
  auto jpeg = make_jpeg(width, height, seed);
  std::size_t sof = 0;
  auto pos = end_of_frame_header(jpeg, sof);
  // No 0xFF byte: libjpeg skips the bytes looking for the next marker, reaches the end and
  // fails with "no image", instead of decoding a partial picture with a warning.
  auto garbage = random_bytes(garbage_bytes, seed);
  for (auto& c : garbage)
    if (static_cast<unsigned char>(c) == 0xFF)
      c = 0x5A;
  return jpeg.substr(0, pos) + garbage;
}

std::string with_declared_size(std::string jpeg, int width, int height) {
  std::size_t sof = 0;
  end_of_frame_header(jpeg, sof);
  // SOF0: FF C0, length (2), precision (1), height (2), width (2), ...
  jpeg[sof + 5] = static_cast<char>((height >> 8) & 0xFF);
  jpeg[sof + 6] = static_cast<char>(height & 0xFF);
  jpeg[sof + 7] = static_cast<char>((width >> 8) & 0xFF);
  jpeg[sof + 8] = static_cast<char>(width & 0xFF);
  return jpeg;
}

std::string random_bytes(std::size_t size, int seed) {
  std::mt19937 engine{static_cast<std::mt19937::result_type>(seed)};
  std::string out(size, '\0');
  for (auto& c : out)
    c = static_cast<char>(engine() & 0xFF);
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    throw std::runtime_error("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string progressive_jpeg(int width, int height, int singletons) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr err;
  cinfo.err = jpeg_std_error(&err);
  jpeg_create_compress(&cinfo);
  unsigned char* out = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &out, &size);
  cinfo.image_width = static_cast<JDIMENSION>(width);
  cinfo.image_height = static_cast<JDIMENSION>(height);
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  std::vector<jpeg_scan_info> script;
  jpeg_scan_info dc{};
  dc.comps_in_scan = 3;
  dc.component_index[0] = 0;
  dc.component_index[1] = 1;
  dc.component_index[2] = 2;
  script.push_back(dc);
  for (int c = 0; c < 3; ++c) {
    if (c < singletons) {
      for (int k = 1; k <= 63; ++k) {
        jpeg_scan_info ac{};
        ac.comps_in_scan = 1;
        ac.component_index[0] = c;
        ac.Ss = k;
        ac.Se = k;
        script.push_back(ac);
      }
    } else {
      jpeg_scan_info ac{};
      ac.comps_in_scan = 1;
      ac.component_index[0] = c;
      ac.Ss = 1;
      ac.Se = 63;
      script.push_back(ac);
    }
  }
  cinfo.scan_info = script.data();
  cinfo.num_scans = static_cast<int>(script.size());
  cinfo.progressive_mode = TRUE;
  jpeg_start_compress(&cinfo, TRUE);
  std::vector<unsigned char> row(static_cast<std::size_t>(width) * 3);
  while (cinfo.next_scanline < cinfo.image_height) {
    for (int x = 0; x < width; ++x) {
      row[3 * x] = static_cast<unsigned char>(x * 7 + cinfo.next_scanline);
      row[3 * x + 1] = static_cast<unsigned char>(x ^ cinfo.next_scanline);
      row[3 * x + 2] = static_cast<unsigned char>(cinfo.next_scanline * 3);
    }
    JSAMPROW rows[] = {row.data()};
    jpeg_write_scanlines(&cinfo, rows, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::string bytes{reinterpret_cast<char*>(out), size};
  free(out);
  return bytes;
}

} // namespace imgproc::testing
