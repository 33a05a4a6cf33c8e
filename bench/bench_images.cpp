#include "bench/bench_images.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>

namespace imgproc::bench {

std::string photo_dir() {
  const char* chosen = std::getenv("IMGPROC_SAMPLE_PHOTOS");
  return chosen && *chosen ? chosen : default_photo_dir;
}

const std::vector<std::string>& source_photos() {
  // Natural photos of different content: a car in traffic (the use case), a plant with fine
  // detail, a building, a street scene, and a close-up of an animal's fur.
  static const std::vector<std::string> photos = {
      "licenseplate_motion.jpg", // 600x482
      "aloeL.jpg",               // 1282x1110
      "building.jpg",            // 868x600
      "leuvenA.jpg",             // 751x563
      "baboon.jpg",              // 512x512
  };
  return photos;
}

const std::vector<image_set_size>& image_set_sizes() {
  static const std::vector<image_set_size> sizes = {
      {"640x480", 640, 480},
      {"1280x720", 1280, 720},
      {"1920x1080", 1920, 1080},
  };
  return sizes;
}

namespace {

cv::Mat cover_and_crop(const cv::Mat& photo, int width, int height) {
  double scale =
      std::max(static_cast<double>(width) / photo.cols, static_cast<double>(height) / photo.rows);
  // Rounded up so that the scaled photo covers the size on both axes.
  int scaled_width = std::max(width, static_cast<int>(std::ceil(photo.cols * scale - 1e-9)));
  int scaled_height = std::max(height, static_cast<int>(std::ceil(photo.rows * scale - 1e-9)));
  cv::Mat scaled;
  cv::resize(photo, scaled, cv::Size(scaled_width, scaled_height), 0, 0,
             scale < 1 ? cv::INTER_AREA : cv::INTER_CUBIC);
  cv::Rect centre((scaled_width - width) / 2, (scaled_height - height) / 2, width, height);
  return scaled(centre);
}

} // namespace

std::vector<std::string> make_image_set(int width, int height) {
  if (width <= 0 || height <= 0)
    throw std::runtime_error("make_image_set: the size must be positive");
  std::vector<std::string> set;
  std::vector<uchar> buffer;
  for (const auto& name : source_photos()) {
    std::string path = photo_dir() + "/" + name;
    cv::Mat photo = cv::imread(path, cv::IMREAD_COLOR);
    if (photo.empty())
      throw std::runtime_error("cannot read " + path + " (Debian package opencv-doc)");
    cv::Mat image = cover_and_crop(photo, width, height);
    buffer.clear();
    if (!cv::imencode(".jpg", image, buffer, {cv::IMWRITE_JPEG_QUALITY, 90}))
      throw std::runtime_error("cannot encode " + name + " as JPEG");
    set.emplace_back(reinterpret_cast<const char*>(buffer.data()), buffer.size());
  }
  return set;
}

const std::vector<std::string>& cached_image_set(const image_set_size& size) {
  static std::map<std::string, std::vector<std::string>> sets;
  auto it = sets.find(size.name);
  if (it == sets.end())
    it = sets.emplace(size.name, make_image_set(size.width, size.height)).first;
  return it->second;
}

} // namespace imgproc::bench
