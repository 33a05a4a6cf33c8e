#pragma once

// Turns uploaded JPEG bytes into a BGR image.
//
// The bytes are read in place, not copied (what numpy's frombuffer does in the original), and the
// JPEG header is read first so that an image declaring absurd dimensions is refused before
// anything is allocated for it.
//
// libjpeg-turbo decodes straight into the BGR cv::Mat (JCS_EXT_BGR), with the same settings and
// the same EXIF orientation handling as OpenCV 4.6's cv::imdecode, whose pixels it reproduces
// exactly (tests/core/jpeg_codec_identity_test.cpp); OpenCV instead has libjpeg write RGB and
// swaps every row into BGR with a scalar loop. CMYK and YCCK JPEGs are read as CMYK and
// converted with OpenCV's own formula, to the same pixels.
//
// Damaged data is refused by default: where libjpeg only warns (data ending early, a corrupt
// segment, a bad Huffman code) and cv::imdecode returns an image with the missing part grey,
// decode() fails with undecodable_image naming the defect. corrupt_data::accept lets libjpeg go
// on as OpenCV does: the part before the damage decodes to OpenCV's pixels and what is missing
// is mid-grey (OpenCV's own source manager makes the last rows before a cut slightly different).
// No OpenCV image codec is used: the service does not link libopencv-imgcodecs.

#include "core/errors.hpp"
#include "core/name_table.hpp"
#include "core/work_stop.hpp"

#include <chrono>
#include <cstdint>
#include <opencv2/core/mat.hpp>
#include <optional>
#include <string_view>

namespace imgproc {

/// Dimensions declared by a JPEG's start-of-frame marker.
struct jpeg_header {
  int width = 0;
  int height = 0;
  int components = 0;
};

/// True if the bytes start with a JPEG SOI marker followed by another marker.
bool looks_like_jpeg(std::string_view bytes);

/// Reads the frame header without decoding; nullopt if the markers are malformed or truncated
/// before the frame header.
std::optional<jpeg_header> read_jpeg_header(std::string_view bytes);

/// The smallest decoded size a caller can use: with a non-zero side, decode() may let libjpeg scale
/// the image down by 2, 4 or 8 while the decoded sides stay at least this large. 0 on a side means
/// no constraint on that side; both 0 (the default) means a full-size decode.
struct jpeg_reduce_target {
  int min_width = 0;
  int min_height = 0;

  bool enabled() const { return min_width > 0 || min_height > 0; }
};

/// The EXIF orientation (1-8) of a JPEG's APP1 Exif segment; 1 (as stored) when there is none or
/// it cannot be read.
int jpeg_exif_orientation(std::string_view bytes);

/// Turns an image decoded as stored into the orientation `orientation` (1-8) asks for, the way
/// cv::imdecode does.
void apply_exif_orientation(int orientation, cv::Mat& image);

/// The largest libjpeg scale-down (8, 4 or 2) that keeps width/factor >= min_width and
/// height/factor >= min_height (integer division), else 1 (full size).
int jpeg_reduction_factor(int width, int height, jpeg_reduce_target target);

/// What to do with a JPEG whose data libjpeg finds damaged but can still decode in part.
enum class corrupt_data { refuse, accept };

inline constexpr name_table<corrupt_data, 2> corrupt_data_names{
    {{"refuse", corrupt_data::refuse}, {"accept", corrupt_data::accept}}};

struct jpeg_decoder_settings {
  std::uint64_t max_pixels = 50'000'000; ///< about 50 megapixels
  int min_side = 1;
  /// Most scans a JPEG may have. A progressive file's scans each pass over all of its
  /// coefficients: a valid 5 MB file with 704 scans took 10 s to decode, and a damaged one that
  /// repeats a scan can go on for minutes. Encoders write about 10 (libjpeg's default script)
  /// and rarely more than 30; libjpeg-turbo's own tools refuse over 500.
  int max_scans = 100;
};

class jpeg_decoder {
public:
  explicit jpeg_decoder(jpeg_decoder_settings settings = {}) : settings_(settings) {}

  /// Decodes to 8-bit BGR. Fails with unsupported_media_type (not a JPEG), image_too_large
  /// (declared dimensions over the limit) or undecodable_image (also for damaged data, unless
  /// `damaged` is accept, and for more scans than max_scans). Once `stop` is due (the deadline
  /// passed, the client left) the decoding stops within a few rows, failing with its reason.
  result<cv::Mat> decode(std::string_view bytes, corrupt_data damaged = corrupt_data::refuse) const;

  /// As decode(), but at 1/2, 1/4 or 1/8 scale (cv::IMREAD_REDUCED_COLOR_2/4/8) when the declared
  /// dimensions allow it, per jpeg_reduction_factor(); the limits apply to the declared size. If
  /// the decoded image still comes out under the target (EXIF rotation swapped the sides), it is
  /// decoded again at full size. A disabled target decodes exactly as decode().
  result<cv::Mat> decode(std::string_view bytes, jpeg_reduce_target target,
                         corrupt_data damaged = corrupt_data::refuse,
                         const work_stop& stop = {}) const;

  const jpeg_decoder_settings& settings() const { return settings_; }

private:
  jpeg_decoder_settings settings_;
};

} // namespace imgproc
