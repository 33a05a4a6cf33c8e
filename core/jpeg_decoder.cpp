#include "core/jpeg_decoder.hpp"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>

namespace imgproc {
namespace {

int read_u16(const unsigned char* p) {
  return (p[0] << 8) | p[1];
}

bool is_start_of_frame(unsigned char marker) {
  // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

} // namespace

bool looks_like_jpeg(std::string_view bytes) {
  return bytes.size() >= 4 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
         static_cast<unsigned char>(bytes[1]) == 0xD8 &&
         static_cast<unsigned char>(bytes[2]) == 0xFF;
}

std::optional<jpeg_header> read_jpeg_header(std::string_view bytes) {
  if (!looks_like_jpeg(bytes))
    return std::nullopt;
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t size = bytes.size();
  std::size_t pos = 2;
  while (pos + 1 < size) {
    if (data[pos] != 0xFF)
      return std::nullopt; // garbage between segments
    unsigned char marker = data[pos + 1];
    if (marker == 0xFF) { // fill byte
      ++pos;
      continue;
    }
    pos += 2;
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7))
      continue; // standalone markers carry no length
    if (marker == 0xD9 || marker == 0xDA)
      return std::nullopt; // end of image or scan data before any frame header
    if (pos + 2 > size)
      return std::nullopt;
    int length = read_u16(data + pos);
    if (length < 2 || pos + static_cast<std::size_t>(length) > size)
      return std::nullopt;
    if (is_start_of_frame(marker)) {
      if (length < 8)
        return std::nullopt;
      jpeg_header header;
      header.height = read_u16(data + pos + 3);
      header.width = read_u16(data + pos + 5);
      header.components = data[pos + 7];
      return header;
    }
    pos += static_cast<std::size_t>(length);
  }
  return std::nullopt;
}

int jpeg_reduction_factor(int width, int height, jpeg_reduce_target target) {
  if (!target.enabled())
    return 1;
  for (int factor : {8, 4, 2})
    if (width / factor >= target.min_width && height / factor >= target.min_height)
      return factor;
  return 1;
}

namespace {

int imread_flags(int factor) {
  switch (factor) {
    case 2:
      return cv::IMREAD_REDUCED_COLOR_2;
    case 4:
      return cv::IMREAD_REDUCED_COLOR_4;
    case 8:
      return cv::IMREAD_REDUCED_COLOR_8;
    default:
      return cv::IMREAD_COLOR;
  }
}

} // namespace

result<cv::Mat> jpeg_decoder::decode(std::string_view bytes) const {
  return decode(bytes, jpeg_reduce_target{});
}

result<cv::Mat> jpeg_decoder::decode(std::string_view bytes, jpeg_reduce_target target) const {
  if (!looks_like_jpeg(bytes))
    return make_failure(error_code::unsupported_media_type,
                        "image_file is not a JPEG (it does not start with a JPEG marker)");
  auto header = read_jpeg_header(bytes);
  if (!header || header->width == 0 || header->height == 0)
    return make_failure(error_code::undecodable_image,
                        "image_file is not a valid JPEG: no readable frame header");
  auto pixels = static_cast<std::uint64_t>(header->width) * header->height;
  if (pixels > settings_.max_pixels)
    return make_failure(error_code::image_too_large,
                        "image is " + std::to_string(header->width) + "x" +
                            std::to_string(header->height) + " pixels, over the limit of " +
                            std::to_string(settings_.max_pixels) + " pixels");
  if (header->width < settings_.min_side || header->height < settings_.min_side)
    return make_failure(error_code::undecodable_image, "image is " + std::to_string(header->width) +
                                                           "x" + std::to_string(header->height) +
                                                           " pixels, under the minimum side of " +
                                                           std::to_string(settings_.min_side));
  try {
    // A header over the upload, like numpy.frombuffer: no copy of the bytes.
    const cv::Mat wrapped(1, static_cast<int>(bytes.size()), CV_8UC1,
                          const_cast<char*>(bytes.data()));
    int factor = jpeg_reduction_factor(header->width, header->height, target);
    cv::Mat image = cv::imdecode(wrapped, imread_flags(factor));
    if (factor > 1 && !image.empty() &&
        (image.cols < target.min_width || image.rows < target.min_height))
      image = cv::imdecode(wrapped, cv::IMREAD_COLOR); // EXIF rotation swapped the sides
    if (image.empty())
      return make_failure(error_code::undecodable_image, "image_file could not be decoded as JPEG");
    return image;
  } catch (const cv::Exception& e) {
    return make_failure(error_code::undecodable_image,
                        std::string{"image_file could not be decoded: "} + e.what());
  }
}

} // namespace imgproc
