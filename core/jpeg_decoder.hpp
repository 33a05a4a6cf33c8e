#pragma once

// Turns uploaded JPEG bytes into a BGR image.
//
// The bytes are wrapped, not copied (what numpy's frombuffer does in the original), and the JPEG
// header is read first so that an image declaring absurd dimensions is refused before OpenCV
// allocates anything for it: OpenCV's own limit is 2^30 pixels.

#include "core/errors.hpp"

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

struct jpeg_decoder_settings {
  std::uint64_t max_pixels = 50'000'000; ///< about 50 megapixels
  int min_side = 1;
};

class jpeg_decoder {
public:
  explicit jpeg_decoder(jpeg_decoder_settings settings = {}) : settings_(settings) {}

  /// Decodes to 8-bit BGR. Fails with unsupported_media_type (not a JPEG), image_too_large
  /// (declared dimensions over the limit) or undecodable_image.
  result<cv::Mat> decode(std::string_view bytes) const;

  const jpeg_decoder_settings& settings() const { return settings_; }

private:
  jpeg_decoder_settings settings_;
};

} // namespace imgproc
