#pragma once

// Deterministic image sets for the benchmarks: real photos from Debian's opencv-doc package,
// scaled to cover each size, centre-cropped and re-encoded as JPEG at quality 90. The chain
// benchmark decodes them in memory; the load harness writes the same bytes to files
// (`bench_images --out=DIR`).
//
// None of the source photos is larger than 1282x1110, so most images of the 1280x720 set and all
// of the 1920x1080 set are upscaled: they hold less fine detail than a camera photo of that size,
// so their JPEG files are smaller and entropy decoding is a smaller share of their decode.

#include <string>
#include <vector>

namespace imgproc::bench {

/// Where Debian's opencv-doc installs its sample photos.
inline constexpr const char* default_photo_dir = "/usr/share/doc/opencv-doc/examples/data";

/// The folder of the sample photos: $IMGPROC_SAMPLE_PHOTOS when set, else default_photo_dir.
std::string photo_dir();

/// File names (in photo_dir) of the source photos, in the order of the images in every set.
const std::vector<std::string>& source_photos();

struct image_set_size {
  std::string name; ///< "640x480": the set's directory name for bench_images
  int width = 0;
  int height = 0;
};

/// The sets the benchmarks use: 640x480, 1280x720 and 1920x1080.
const std::vector<image_set_size>& image_set_sizes();

/// One JPEG (quality 90) per source photo, each exactly width x height: the photo scaled so that
/// it covers the size (INTER_AREA down, INTER_CUBIC up) and centre-cropped. The same bytes on
/// every run with the same OpenCV build. Throws std::runtime_error if a photo cannot be read
/// (is opencv-doc installed?) or the size is not positive.
std::vector<std::string> make_image_set(int width, int height);

/// make_image_set() of `size`, made once per process and kept (one benchmark thread: not
/// thread-safe).
const std::vector<std::string>& cached_image_set(const image_set_size& size);

} // namespace imgproc::bench
