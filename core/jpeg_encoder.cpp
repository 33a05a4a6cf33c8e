#include "core/jpeg_encoder.hpp"

#include <algorithm>
#include <csetjmp>
#include <cstdio> // jpeglib.h needs FILE
#include <jpeglib.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

namespace imgproc {
namespace {

struct error_manager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = {};
};

[[noreturn]] void on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<error_manager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

/// libjpeg writes straight into the caller's string, which grows by doubling.
struct string_destination {
  jpeg_destination_mgr pub;
  std::string* out;
};

void start_writing(j_compress_ptr cinfo) {
  auto* dest = reinterpret_cast<string_destination*>(cinfo->dest);
  dest->out->resize(std::max<std::size_t>(dest->out->capacity(), 16384));
  dest->pub.next_output_byte = reinterpret_cast<JOCTET*>(dest->out->data());
  dest->pub.free_in_buffer = dest->out->size();
}

boolean grow(j_compress_ptr cinfo) {
  auto* dest = reinterpret_cast<string_destination*>(cinfo->dest);
  std::size_t written = dest->out->size(); // libjpeg calls this only when the buffer is full
  dest->out->resize(written * 2);
  dest->pub.next_output_byte = reinterpret_cast<JOCTET*>(dest->out->data() + written);
  dest->pub.free_in_buffer = dest->out->size() - written;
  return TRUE;
}

void finish_writing(j_compress_ptr cinfo) {
  auto* dest = reinterpret_cast<string_destination*>(cinfo->dest);
  dest->out->resize(dest->out->size() - dest->pub.free_in_buffer);
}

/// libjpeg between setjmp and its last call: no object with a destructor is created here.
bool compress(const cv::Mat& image, int quality, std::string& out, std::string& problem) {
  jpeg_compress_struct cinfo;
  error_manager err;
  string_destination dest;
  dest.out = &out;
  dest.pub.init_destination = start_writing;
  dest.pub.empty_output_buffer = grow;
  dest.pub.term_destination = finish_writing;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  jpeg_create_compress(&cinfo);
  if (setjmp(err.jump) != 0) {
    jpeg_destroy_compress(&cinfo);
    problem = err.message;
    return false;
  }
  cinfo.dest = &dest.pub;
  cinfo.image_width = static_cast<JDIMENSION>(image.cols);
  cinfo.image_height = static_cast<JDIMENSION>(image.rows);
  bool color = image.channels() == 3;
  cinfo.input_components = color ? 3 : 1;
  // cv::imencode hands libjpeg RGB rows it swapped from BGR; libjpeg-turbo reads BGR itself.
  cinfo.in_color_space = color ? JCS_EXT_BGR : JCS_GRAYSCALE;
  // OpenCV 4.6's settings for ".jpg" with only a quality: baseline, Huffman tables not
  // optimized, no restart markers, 4:2:0.
  jpeg_set_defaults(&cinfo);
  cinfo.restart_interval = 0;
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    auto* row = const_cast<JSAMPLE*>(image.ptr<JSAMPLE>(static_cast<int>(cinfo.next_scanline)));
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return true;
}

} // namespace

bool encode_jpeg(const cv::Mat& image, int quality, std::string& out, std::string& problem) {
  quality = std::min(std::max(quality, 0), 100);
  if (image.empty()) {
    problem = "the image is empty";
    return false;
  }
  if (image.channels() != 1 && image.channels() != 3 && image.channels() != 4) {
    problem = "JPEG encoding takes an image with 1, 3 or 4 channels";
    return false;
  }
  if (image.depth() == CV_8U && image.channels() != 4)
    return compress(image, quality, out, problem);
  // What cv::imencode(".jpg") does first: other depths saturated to 8 bits (no scaling), the
  // alpha channel dropped.
  cv::Mat eight_bit = image;
  if (image.depth() != CV_8U)
    image.convertTo(eight_bit, CV_8U);
  if (eight_bit.channels() == 4)
    cv::cvtColor(eight_bit, eight_bit, cv::COLOR_BGRA2BGR);
  return compress(eight_bit, quality, out, problem);
}

} // namespace imgproc
