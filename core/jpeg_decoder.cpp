#include "core/jpeg_decoder.hpp"

#include <chrono>
#include <csetjmp>
#include <cstdio>   // jpeglib.h needs FILE
#include <jerror.h> // JWRN_* message codes
#include <jpeglib.h>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace imgproc {
namespace {

int read_u16(const unsigned char* p, bool big_endian = true) {
  return big_endian ? (p[0] << 8) | p[1] : (p[1] << 8) | p[0];
}

bool is_start_of_frame(unsigned char marker) {
  // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

/// The next marker from `pos` as libjpeg finds it (jdmarker.c, next_marker): bytes before an 0xFF
/// are skipped (libjpeg warns of "extraneous bytes"), fill 0xFF bytes too, and FF 00 is not a
/// marker. Reading the markers libjpeg reads keeps what is read here what libjpeg decodes.
/// Leaves `pos` after the marker; nullopt at the end of the data.
std::optional<unsigned char> next_marker(const unsigned char* data, std::size_t size,
                                         std::size_t& pos) {
  for (;;) {
    while (pos < size && data[pos] != 0xFF)
      ++pos;
    while (pos < size && data[pos] == 0xFF)
      ++pos;
    if (pos >= size)
      return std::nullopt;
    unsigned char marker = data[pos++];
    if (marker != 0x00)
      return marker;
  }
}

bool is_standalone(unsigned char marker) {
  return marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7);
}

struct segment {
  const unsigned char* body; ///< after the marker and its 2-byte length
  std::size_t size;          ///< of the body
};

/// The first segment before the scan data whose marker is `wanted(marker)`, walking the markers
/// as libjpeg does; nullopt if the data ends, is malformed or reaches the scan first.
template <class Wanted> std::optional<segment> find_segment(std::string_view bytes, Wanted wanted) {
  if (!looks_like_jpeg(bytes))
    return std::nullopt;
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t size = bytes.size();
  std::size_t pos = 2;
  for (;;) {
    auto marker = next_marker(data, size, pos);
    if (!marker)
      return std::nullopt;
    if (is_standalone(*marker))
      continue; // no length
    if (*marker == 0xD8 || *marker == 0xD9 || *marker == 0xDA)
      return std::nullopt; // another start of image, end of image or scan data
    if (pos + 2 > size)
      return std::nullopt;
    auto length = static_cast<std::size_t>(read_u16(data + pos));
    if (length < 2 || pos + length > size)
      return std::nullopt;
    if (wanted(*marker))
      return segment{data + pos + 2, length - 2};
    pos += length;
  }
}

} // namespace

bool looks_like_jpeg(std::string_view bytes) {
  return bytes.size() >= 4 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
         static_cast<unsigned char>(bytes[1]) == 0xD8 &&
         static_cast<unsigned char>(bytes[2]) == 0xFF;
}

std::optional<jpeg_header> read_jpeg_header(std::string_view bytes) {
  auto frame = find_segment(bytes, is_start_of_frame);
  if (!frame || frame->size < 6)
    return std::nullopt;
  jpeg_header header;
  header.height = read_u16(frame->body + 1);
  header.width = read_u16(frame->body + 3);
  header.components = frame->body[5];
  return header;
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

std::uint32_t read_u32(const unsigned char* p, bool big_endian) {
  return big_endian ? (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
                          (std::uint32_t{p[2]} << 8) | p[3]
                    : (std::uint32_t{p[3]} << 24) | (std::uint32_t{p[2]} << 16) |
                          (std::uint32_t{p[1]} << 8) | p[0];
}

/// The orientation tag of a TIFF structure (what an Exif segment holds after "Exif\0\0").
int tiff_orientation(const unsigned char* tiff, std::size_t size) {
  if (size < 8)
    return 1;
  bool big_endian;
  if (tiff[0] == 'M' && tiff[1] == 'M')
    big_endian = true;
  else if (tiff[0] == 'I' && tiff[1] == 'I')
    big_endian = false;
  else
    return 1;
  if (read_u16(tiff + 2, big_endian) != 0x2A)
    return 1;
  std::size_t ifd = read_u32(tiff + 4, big_endian);
  if (ifd > size || size - ifd < 2)
    return 1;
  int entries = read_u16(tiff + ifd, big_endian);
  for (int i = 0; i < entries; ++i) {
    std::size_t entry = ifd + 2 + 12 * static_cast<std::size_t>(i);
    if (entry + 12 > size)
      return 1;
    if (read_u16(tiff + entry, big_endian) == 0x0112)
      return read_u16(tiff + entry + 8, big_endian);
  }
  return 1;
}

/// libjpeg's warnings that mean the data is damaged (as opposed to notes on unusual but intact
/// files, e.g. an unknown JFIF revision).
bool is_damage(int message_code) {
  switch (message_code) {
    case JWRN_JPEG_EOF:
    case JWRN_EXTRANEOUS_DATA:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_BOGUS_PROGRESSION:
      return true;
    default:
      return false;
  }
}

struct error_manager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  corrupt_data damaged = corrupt_data::refuse;
  char message[JMSG_LENGTH_MAX] = {};
};

[[noreturn]] void on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<error_manager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

void on_message(j_common_ptr cinfo, int level) {
  if (level >= 0)
    return; // trace messages
  auto* err = reinterpret_cast<error_manager*>(cinfo->err);
  ++err->pub.num_warnings;
  if (!is_damage(err->pub.msg_code))
    return;
  if (err->damaged == corrupt_data::accept)
    return; // libjpeg goes on: data that ended early reads as mid-grey, as in cv::imdecode
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 2);
}

enum class decode_status { decoded, damaged, failed, too_many_scans, stopped };

/// libjpeg's progress monitor, called for every few rows of every pass and scan: where a scan
/// bomb and a passed deadline are noticed while libjpeg works, not after.
struct progress_guard {
  jpeg_progress_mgr pub;
  error_manager* err = nullptr;
  int max_scans = 0;
  const work_stop* stop = nullptr;
  unsigned calls = 0;
};

void on_progress(j_common_ptr cinfo) {
  auto* guard = reinterpret_cast<progress_guard*>(cinfo->progress);
  auto* decompress = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (decompress->input_scan_number > guard->max_scans)
    std::longjmp(guard->err->jump, 3);
  // Every 16 calls: a call is a few rows' work, far below a millisecond.
  if ((++guard->calls & 15u) == 0 && guard->stop->due())
    std::longjmp(guard->err->jump, 4);
}

/// One row of CMYK as libjpeg gives it (Adobe's inverted convention) into BGR, with OpenCV 4.6's
/// integer formula (icvCvt_CMYK2BGR_8u_C4C3R), so the pixels are the same as cv::imdecode's.
void cmyk_row_to_bgr(const unsigned char* cmyk, unsigned char* bgr, int width) {
  for (int x = 0; x < width; ++x, cmyk += 4, bgr += 3) {
    int k = cmyk[3];
    bgr[2] = static_cast<unsigned char>(k - ((255 - cmyk[0]) * k >> 8));
    bgr[1] = static_cast<unsigned char>(k - ((255 - cmyk[1]) * k >> 8));
    bgr[0] = static_cast<unsigned char>(k - ((255 - cmyk[2]) * k >> 8));
  }
}

/// Decodes with libjpeg into `out` (8-bit BGR) at 1/`factor` scale; CMYK and YCCK files are
/// read as CMYK rows into `cmyk` and converted as OpenCV converts them. Plain C-style code
/// between setjmp and the last libjpeg call: a longjmp must not skip a destructor, so the
/// buffers belong to the caller.
decode_status decode_bgr(std::string_view bytes, int factor, corrupt_data damaged,
                         const progress_guard& limits, cv::Mat& out,
                         std::vector<unsigned char>& cmyk, std::string& problem) {
  jpeg_decompress_struct cinfo;
  error_manager err;
  err.damaged = damaged;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  err.pub.emit_message = on_message;
  progress_guard progress = limits;
  progress.pub.progress_monitor = on_progress;
  progress.err = &err;
  jpeg_create_decompress(&cinfo);
  cinfo.progress = &progress.pub;
  int jumped = setjmp(err.jump);
  if (jumped != 0) {
    jpeg_destroy_decompress(&cinfo);
    problem = err.message;
    switch (jumped) {
      case 2:
        return decode_status::damaged;
      case 3:
        return decode_status::too_many_scans;
      case 4:
        return decode_status::stopped;
      default:
        return decode_status::failed;
    }
  }
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()),
               static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  bool four_channels = cinfo.num_components == 4; // CMYK or YCCK
  cinfo.scale_num = 1;
  cinfo.scale_denom = static_cast<unsigned>(factor);
  // What OpenCV gets by swapping every RGB row; CMYK as OpenCV asks for it, converted below.
  cinfo.out_color_space = four_channels ? JCS_CMYK : JCS_EXT_BGR;
  jpeg_calc_output_dimensions(&cinfo);
  out.create(static_cast<int>(cinfo.output_height), static_cast<int>(cinfo.output_width), CV_8UC3);
  if (four_channels)
    cmyk.resize(std::size_t{cinfo.output_width} * 4);
  jpeg_start_decompress(&cinfo);
  while (cinfo.output_scanline < cinfo.output_height) {
    unsigned char* bgr = out.ptr(static_cast<int>(cinfo.output_scanline));
    JSAMPROW row = four_channels ? cmyk.data() : bgr;
    if (jpeg_read_scanlines(&cinfo, &row, 1) == 1 && four_channels)
      cmyk_row_to_bgr(row, bgr, static_cast<int>(cinfo.output_width));
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return decode_status::decoded;
}

} // namespace

int jpeg_exif_orientation(std::string_view bytes) {
  // As cv::imdecode: the first APP1 segment before the scan, read as Exif.
  auto app1 = find_segment(bytes, [](unsigned char marker) { return marker == 0xE1; });
  constexpr std::size_t exif_header = 6; // "Exif\0\0"
  if (!app1 || app1->size <= exif_header)
    return 1;
  return tiff_orientation(app1->body + exif_header, app1->size - exif_header);
}

void apply_exif_orientation(int orientation, cv::Mat& image) {
  switch (orientation) {
    case 2: // mirrored
      cv::flip(image, image, 1);
      break;
    case 3: // upside down
      cv::flip(image, image, -1);
      break;
    case 4: // mirrored upside down
      cv::flip(image, image, 0);
      break;
    case 5:
      cv::transpose(image, image);
      break;
    case 6: // rotated 90 degrees clockwise to be upright
      cv::transpose(image, image);
      cv::flip(image, image, 1);
      break;
    case 7:
      cv::transpose(image, image);
      cv::flip(image, image, -1);
      break;
    case 8: // rotated 90 degrees counter-clockwise to be upright
      cv::transpose(image, image);
      cv::flip(image, image, 0);
      break;
    default: // 1, or a value outside the standard: as stored
      break;
  }
}

result<cv::Mat> jpeg_decoder::decode(std::string_view bytes, corrupt_data damaged) const {
  return decode(bytes, jpeg_reduce_target{}, damaged);
}

result<cv::Mat> jpeg_decoder::decode(std::string_view bytes, jpeg_reduce_target target,
                                     corrupt_data damaged, const work_stop& stop) const {
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
    int orientation = jpeg_exif_orientation(bytes);
    auto decode_at = [&](int factor) -> result<cv::Mat> {
      cv::Mat image;
      std::vector<unsigned char> cmyk;
      std::string problem;
      progress_guard limits{};
      limits.max_scans = settings_.max_scans;
      limits.stop = &stop;
      switch (decode_bgr(bytes, factor, damaged, limits, image, cmyk, problem)) {
        case decode_status::decoded:
          apply_exif_orientation(orientation, image);
          return image;
        case decode_status::damaged:
          return make_failure(error_code::undecodable_image,
                              "image_file is a damaged JPEG: " + problem);
        case decode_status::failed:
          return make_failure(error_code::undecodable_image,
                              "image_file could not be decoded as JPEG: " + problem);
        case decode_status::too_many_scans:
          return make_failure(error_code::undecodable_image,
                              "image_file is a JPEG with more than " +
                                  std::to_string(settings_.max_scans) +
                                  " scans, over the limit (--max-jpeg-scans)");
        case decode_status::stopped:
          return stop.reason("while the JPEG was decoded");
      }
      return make_failure(error_code::internal, "unknown JPEG decode status");
    };
    int factor = jpeg_reduction_factor(header->width, header->height, target);
    auto image = decode_at(factor);
    if (factor > 1 && image && (image->cols < target.min_width || image->rows < target.min_height))
      return decode_at(1); // EXIF rotation swapped the sides
    return image;
  } catch (const cv::Exception& e) {
    return make_failure(error_code::undecodable_image,
                        std::string{"image_file could not be decoded: "} + e.what());
  }
}

} // namespace imgproc
