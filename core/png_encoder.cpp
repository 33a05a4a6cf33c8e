#include "core/png_encoder.hpp"

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <png.h>
#include <vector>
#include <zlib.h>

namespace imgproc {
namespace {

struct png_output {
  std::string* bytes;
  char message[256] = {};
};

void append(png_structp png, png_bytep data, png_size_t length) {
  auto* output = static_cast<png_output*>(png_get_io_ptr(png));
  output->bytes->append(reinterpret_cast<const char*>(data), length);
}

void flush(png_structp) {}

[[noreturn]] void on_error(png_structp png, png_const_charp message) {
  auto* output = static_cast<png_output*>(png_get_error_ptr(png));
  std::snprintf(output->message, sizeof output->message, "%s", message);
  png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}

/// The libpng calls, plain C-style between setjmp and the end: a longjmp must not skip a
/// destructor. `rows` is filled before any libpng call that can jump.
bool write_png(const cv::Mat& image, int level, const std::vector<png_bytep>& rows,
               png_output& output) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &output, on_error, on_warning);
  if (!png) {
    std::snprintf(output.message, sizeof output.message, "libpng could not start");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, info ? &info : nullptr);
    return false;
  }
  png_set_write_fn(png, &output, append, flush);
  // As OpenCV 4.6 with IMWRITE_PNG_COMPRESSION: the level given, zlib's default strategy,
  // libpng's default filters.
  png_set_compression_level(png, level);
  png_set_compression_strategy(png, Z_DEFAULT_STRATEGY);
  int color = image.channels() == 1   ? PNG_COLOR_TYPE_GRAY
              : image.channels() == 3 ? PNG_COLOR_TYPE_RGB
                                      : PNG_COLOR_TYPE_RGBA;
  png_set_IHDR(png, info, static_cast<png_uint_32>(image.cols),
               static_cast<png_uint_32>(image.rows), 8, color, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_set_bgr(png); // the rows are BGR(A): libpng swaps them as it writes
  png_write_image(png, const_cast<png_bytepp>(rows.data()));
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return true;
}

} // namespace

bool encode_png(const cv::Mat& image, int level, std::string& out, std::string& problem) {
  if (image.empty() || image.depth() != CV_8U ||
      (image.channels() != 1 && image.channels() != 3 && image.channels() != 4)) {
    problem = "PNG encoding takes an 8-bit image with 1, 3 or 4 channels";
    return false;
  }
  std::vector<png_bytep> rows(static_cast<std::size_t>(image.rows));
  for (int y = 0; y < image.rows; ++y)
    rows[static_cast<std::size_t>(y)] = const_cast<png_bytep>(image.ptr<unsigned char>(y));
  out.clear();
  png_output output{&out};
  if (!write_png(image, std::clamp(level, 0, 9), rows, output)) {
    problem = std::string{"libpng: "} + output.message;
    return false;
  }
  return true;
}

} // namespace imgproc
