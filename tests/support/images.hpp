#pragma once

// Test images, made deterministically so a failing test can be re-run on the same bytes.

#include <cstddef>
#include <string>

namespace imgproc::testing {

/// The folder of the sample photos (basketball1.png, messi5.jpg, licenseplate_motion.jpg, ...),
/// ending in '/': $IMGPROC_SAMPLE_PHOTOS when set, else where Debian's opencv-doc installs them.
std::string sample_photo_dir();

/// A real photo of a car (600x482): licenseplate_motion.jpg in sample_photo_dir().
std::string sample_photo_path();

/// A sample photo from sample_photo_dir (a JPEG or a PNG) as the JPEG a client would upload
/// (quality 95). Throws std::runtime_error if it cannot be read.
std::string sample_photo_jpeg(const std::string& name);

/// A w x h baseline JPEG of gradients and stripes; the same seed gives the same bytes.
std::string make_jpeg(int width, int height, int seed, int quality = 90);

/// A valid three-channel progressive JPEG of `width` x `height` made by libjpeg from a custom
/// scan script: one DC scan, then for each of the first `singletons` components one scan per AC
/// coefficient (63), for the others one scan for all of them: 1 + 63 * singletons +
/// (3 - singletons) scans. Each scan is a pass over the whole image when decoded.
std::string progressive_jpeg(int width, int height, int singletons);

/// A small valid PNG (not accepted by the service).
std::string make_png(int width, int height, int seed);

/// A JPEG whose headers are intact up to and including the frame header (SOF), followed by
/// `garbage_bytes` bytes that hold no marker: the service's header check passes, but the
/// decoder cannot find any scan and fails.
std::string make_undecodable_jpeg(int width, int height, int seed,
                                  std::size_t garbage_bytes = 4096);

/// `jpeg` with the frame header (SOF0) claiming `width` x `height` (at most 65535 each) while
/// the data stays as it was: what a decompression bomb looks like to a header check.
std::string with_declared_size(std::string jpeg, int width, int height);

/// `size` deterministic pseudo-random bytes.
std::string random_bytes(std::size_t size, int seed);

/// The whole file; throws std::runtime_error if it cannot be read.
std::string read_file(const std::string& path);

} // namespace imgproc::testing
