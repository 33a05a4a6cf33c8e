#include "core/object_detectors.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <opencv2/core/persistence.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>
#include <sstream>
#include <tuple>

namespace imgproc {

cascade_library::cascade_library(std::string root) {
  namespace fs = std::filesystem;
  for (const char* folder : {"haarcascades", "lbpcascades"}) {
    std::error_code ec;
    for (fs::directory_iterator it{fs::path{root} / folder, ec}, end; !ec && it != end;
         it.increment(ec)) {
      if (it->path().extension() == ".xml")
        paths_.emplace(it->path().stem().string(), it->path().string());
    }
  }
  for (const auto& entry : paths_)
    names_.push_back(entry.first);
}

result<std::shared_ptr<const std::string>> cascade_library::text(const std::string& name) const {
  auto path = paths_.find(name);
  if (path == paths_.end())
    return make_failure(error_code::step_failed,
                        "the cascade '" + name + "' is not installed on this node");
  std::lock_guard<std::mutex> lock{mutex_};
  auto& cached = texts_[name];
  if (!cached) {
    std::ifstream in{path->second, std::ios::binary};
    std::ostringstream content;
    content << in.rdbuf();
    if (!in || content.str().empty())
      return make_failure(error_code::step_failed, "cannot read the cascade " + path->second);
    cached = std::make_shared<const std::string>(content.str());
  }
  return cached;
}

std::string cascade_library::path(const std::string& name) const {
  auto found = paths_.find(name);
  return found == paths_.end() ? std::string{} : found->second;
}

std::shared_ptr<const cascade_library> cascade_library::installed() {
  static const auto library = std::make_shared<const cascade_library>();
  return library;
}

namespace {

failure detector_failure(const std::string& detector, const std::string& why) {
  return make_failure(error_code::step_failed, detector + ": " + why);
}

/// The image a detector can take: 8-bit, with one or three channels (BGRA loses its alpha).
result<cv::Mat> detector_input(const std::string& detector, const cv::Mat& image, bool grey) {
  if (image.depth() != CV_8U)
    return detector_failure(detector, "needs an 8-bit image");
  switch (image.channels()) {
    case 1:
      return image;
    case 3:
      if (!grey)
        return image;
      break;
    case 4:
      break;
    default:
      return detector_failure(detector, "cannot read an image with " +
                                            std::to_string(image.channels()) + " channels");
  }
  cv::Mat out;
  if (grey)
    cv::cvtColor(image, out, image.channels() == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
  else
    cv::cvtColor(image, out, cv::COLOR_BGRA2BGR);
  return out;
}

/// Applies the filter's sizes, confidence and count, best first; ties keep reading order.
std::vector<detection> keep_boxes(std::vector<detection> found, const box_filter& filter) {
  auto outside = [&](const detection& d) {
    return d.width < filter.min_width || d.height < filter.min_height ||
           (filter.max_width > 0 && d.width > filter.max_width) ||
           (filter.max_height > 0 && d.height > filter.max_height) ||
           d.confidence < filter.min_confidence;
  };
  found.erase(std::remove_if(found.begin(), found.end(), outside), found.end());
  std::stable_sort(found.begin(), found.end(), [](const detection& a, const detection& b) {
    if (a.confidence != b.confidence)
      return a.confidence > b.confidence;
    return std::tie(a.top_left_y, a.top_left_x) < std::tie(b.top_left_y, b.top_left_x);
  });
  if (found.size() > static_cast<std::size_t>(std::max(filter.max_boxes, 0)))
    found.resize(static_cast<std::size_t>(std::max(filter.max_boxes, 0)));
  for (auto& d : found)
    d.class_id = filter.class_id;
  return found;
}

/// A box clipped to the frame: HOG's padding lets boxes reach past the edges.
detection box_in(const cv::Rect& rect, cv::Size frame, double confidence) {
  cv::Rect clipped = rect & cv::Rect{0, 0, frame.width, frame.height};
  detection d;
  d.top_left_x = clipped.x;
  d.top_left_y = clipped.y;
  d.width = clipped.width;
  d.height = clipped.height;
  d.confidence = confidence;
  return d;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

} // namespace

struct object_detectors::impl {
  std::unique_ptr<cv::HOGDescriptor> hog; ///< made on first use
  std::map<std::string, cv::CascadeClassifier> cascades;
};

object_detectors::object_detectors(std::shared_ptr<const cascade_library> cascades)
    : cascades_(std::move(cascades)), impl_(std::make_unique<impl>()) {}

object_detectors::~object_detectors() = default;

std::vector<detection> object_detectors::answer(const std::string& detector,
                                                std::chrono::steady_clock::time_point start,
                                                std::vector<detection> boxes) const {
  if (observer_)
    observer_(detector, seconds_since(start), boxes.size());
  return boxes;
}

namespace {

/// cv::HOGDescriptor::detectMultiScale (OpenCV 4.6, CPU path, no mean-shift grouping) one level
/// at a time: the same level scales, resizing, hits, grouping and clipping, so the same boxes
/// (tests/core/object_detectors_test.cpp compares them with OpenCV's). OpenCV runs the levels
/// in one call that nothing can stop; here `stop` is checked before each level. Returns false
/// when it was due.
bool hog_detect_by_level(const cv::HOGDescriptor& hog, const cv::Mat& image,
                         const people_settings& settings, const work_stop& stop,
                         std::vector<cv::Rect>& found, std::vector<double>& weights) {
  std::vector<double> level_scales;
  double scale = 1;
  int levels = 0;
  for (; levels < hog.nlevels; ++levels) {
    level_scales.push_back(scale);
    if (cvRound(image.cols / scale) < hog.winSize.width ||
        cvRound(image.rows / scale) < hog.winSize.height || settings.scale_factor <= 1)
      break;
    scale *= settings.scale_factor;
  }
  // The scale that no longer fits is dropped (OpenCV keeps `levels` of them, at least one).
  level_scales.resize(static_cast<std::size_t>(std::max(levels, 1)));
  const cv::Size stride{settings.win_stride, settings.win_stride};
  const cv::Size padding{settings.padding, settings.padding};
  cv::Mat smaller;
  std::vector<cv::Point> locations;
  std::vector<double> hits;
  for (double level_scale : level_scales) {
    if (stop.due())
      return false;
    cv::Size size{cvRound(image.cols / level_scale), cvRound(image.rows / level_scale)};
    if (size == image.size())
      smaller = image;
    else
      cv::resize(image, smaller, size, 0, 0, cv::INTER_LINEAR_EXACT);
    hog.detect(smaller, locations, hits, 0, stride, padding);
    cv::Size window{cvRound(hog.winSize.width * level_scale),
                    cvRound(hog.winSize.height * level_scale)};
    for (std::size_t j = 0; j < locations.size(); ++j) {
      found.emplace_back(cvRound(locations[j].x * level_scale),
                         cvRound(locations[j].y * level_scale), window.width, window.height);
      if (j < hits.size())
        weights.push_back(hits[j]);
    }
  }
  hog.groupRectangles(found, weights, settings.min_neighbors, 0.2);
  // OpenCV's clipObjects: each box cut to the image, empty ones dropped with their weights.
  const cv::Rect whole{0, 0, image.cols, image.rows};
  std::size_t kept = 0;
  for (std::size_t i = 0; i < found.size(); ++i) {
    cv::Rect clipped = whole & found[i];
    if (clipped.area() <= 0)
      continue;
    found[kept] = clipped;
    if (i < weights.size() && kept < weights.size())
      weights[kept] = weights[i];
    ++kept;
  }
  found.resize(kept);
  weights.resize(std::min(weights.size(), kept));
  return true;
}

} // namespace

result<std::vector<detection>> object_detectors::people(const cv::Mat& image,
                                                        const people_settings& settings,
                                                        const work_stop& stop) {
  static const std::string name = "hog_people";
  auto start = std::chrono::steady_clock::now();
  auto input = detector_input(name, image, false);
  if (!input)
    return input.error();
  std::vector<detection> found;
  try {
    if (!impl_->hog) {
      impl_->hog = std::make_unique<cv::HOGDescriptor>();
      impl_->hog->setSVMDetector(cv::HOGDescriptor::getDefaultPeopleDetector());
    }
    const auto& hog = *impl_->hog;
    const cv::Mat& frame = input.value();
    if (frame.cols >= hog.winSize.width && frame.rows >= hog.winSize.height) {
      // Windows are kept at the SVM's own boundary (score 0) and min_confidence applies to the
      // grouped boxes: a higher hit threshold would thin out the windows that grouping counts.
      std::vector<cv::Rect> rects;
      std::vector<double> scores;
      if (!hog_detect_by_level(hog, frame, settings, stop, rects, scores))
        return stop.reason("while " + name + " searched the image");
      for (std::size_t i = 0; i < rects.size(); ++i) {
        double score = i < scores.size() ? scores[i] : 0;
        found.push_back(box_in(rects[i], frame.size(), 1 / (1 + std::exp(-score))));
      }
    }
  } catch (const cv::Exception& e) {
    return detector_failure(name, std::string{"OpenCV failed: "} + e.what());
  }
  return answer(name, start, keep_boxes(std::move(found), settings.boxes));
}

result<std::vector<detection>> object_detectors::cascade(const cv::Mat& image,
                                                         const cascade_settings& settings) {
  const std::string& name = settings.cascade;
  auto start = std::chrono::steady_clock::now();
  auto input = detector_input(name, image, true);
  if (!input)
    return input.error();
  std::vector<detection> found;
  try {
    auto loaded = impl_->cascades.find(name);
    if (loaded == impl_->cascades.end()) {
      auto text = cascades_->text(name);
      if (!text)
        return text.error();
      cv::FileStorage storage{*text.value(), cv::FileStorage::READ | cv::FileStorage::MEMORY};
      cv::CascadeClassifier classifier;
      bool loaded_from_text = storage.isOpened() &&
                              classifier.read(storage.getFirstTopLevelNode()) &&
                              !classifier.empty();
      // The old Haar format is converted by OpenCV only when loading from a file.
      if (!loaded_from_text && (!classifier.load(cascades_->path(name)) || classifier.empty()))
        return detector_failure(name, "the cascade does not load");
      loaded = impl_->cascades.emplace(name, std::move(classifier)).first;
    }
    auto& classifier = loaded->second;
    const cv::Mat& frame = input.value();
    cv::Size window = classifier.getOriginalWindowSize();
    if (frame.cols >= window.width && frame.rows >= window.height) {
      const auto& boxes = settings.boxes;
      std::vector<cv::Rect> rects;
      std::vector<int> neighbours;
      classifier.detectMultiScale(
          frame, rects, neighbours, settings.scale_factor, settings.min_neighbors, 0,
          cv::Size{boxes.min_width, boxes.min_height}, cv::Size{boxes.max_width, boxes.max_height});
      for (std::size_t i = 0; i < rects.size(); ++i) {
        double hits = i < neighbours.size() ? neighbours[i] : 0;
        found.push_back(box_in(rects[i], frame.size(), hits / (hits + 1)));
      }
    }
  } catch (const cv::Exception& e) {
    return detector_failure(name, std::string{"OpenCV failed: "} + e.what());
  }
  return answer(name, start, keep_boxes(std::move(found), settings.boxes));
}

void scale_boxes(std::vector<detection>& boxes, cv::Size frame, cv::Size input) {
  if (frame.width <= 0 || frame.height <= 0 || input.width <= 0 || input.height <= 0 ||
      frame == input)
    return;
  double sx = static_cast<double>(input.width) / frame.width;
  double sy = static_cast<double>(input.height) / frame.height;
  for (auto& d : boxes) {
    int x0 = std::clamp(static_cast<int>(std::lround(d.top_left_x * sx)), 0, input.width);
    int y0 = std::clamp(static_cast<int>(std::lround(d.top_left_y * sy)), 0, input.height);
    int x1 =
        std::clamp(static_cast<int>(std::lround((d.top_left_x + d.width) * sx)), 0, input.width);
    int y1 =
        std::clamp(static_cast<int>(std::lround((d.top_left_y + d.height) * sy)), 0, input.height);
    d.top_left_x = x0;
    d.top_left_y = y0;
    d.width = x1 - x0;
    d.height = y1 - y0;
  }
}

} // namespace imgproc
