// libFuzzer target: read_jpeg_header and, when it accepts the bytes, the decoder (libjpeg-turbo,
// strict and accepting damaged data) with a small pixel limit so that one input stays fast.
#include "core/jpeg_decoder.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <opencv2/core.hpp>
#include <string_view>

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  cv::setNumThreads(0); // no worker threads: deterministic and cheaper under ASan
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes{reinterpret_cast<const char*>(data), size};
  auto header = imgproc::read_jpeg_header(bytes);
  if (!header)
    return 0;
  if (header->width < 0 || header->width > 65535 || header->height < 0 || header->height > 65535)
    std::abort();
  static const imgproc::jpeg_decoder decoder{imgproc::jpeg_decoder_settings{4'000'000, 1}};
  auto orientation = imgproc::jpeg_exif_orientation(bytes);
  bool sides_swapped = orientation >= 5 && orientation <= 8; // turned by 90 degrees
  for (auto damaged : {imgproc::corrupt_data::refuse, imgproc::corrupt_data::accept}) {
    auto image = decoder.decode(bytes, damaged);
    if (!image)
      continue;
    // What the header promised is what came out, as 8-bit BGR.
    int width = sides_swapped ? header->height : header->width;
    int height = sides_swapped ? header->width : header->height;
    if (image->type() != CV_8UC3 || image->cols != width || image->rows != height)
      std::abort();
  }
  return 0;
}
