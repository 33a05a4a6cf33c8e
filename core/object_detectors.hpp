#pragma once

// Object detectors that run locally on the CPU, with models that come in Debian packages, so
// nothing is downloaded at run time:
//   - people: OpenCV's HOG descriptor with its default people SVM (compiled into
//     libopencv-objdetect);
//   - cascades: the Haar and LBP cascades of Debian's opencv-data (faces, bodies, plates, ...),
//     chosen by name.
//
// Every detector answers boxes in the frame it was given, best first, already filtered (size,
// confidence, count). `confidence` is in [0, 1] but is not a calibrated probability:
//   - HOG: the logistic of the SVM's score (0.5 is the SVM's own decision boundary);
//   - cascade: n / (n + 1), where n is the number of overlapping raw hits merged into the box.

#include "core/errors.hpp"
#include "core/payload.hpp"
#include "core/work_stop.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <opencv2/core/mat.hpp>
#include <string>
#include <vector>

namespace imgproc {

/// Where Debian's opencv-data installs its cascades (haarcascades/ and lbpcascades/).
inline constexpr const char* default_cascade_root = "/usr/share/opencv4";

/// The cascades installed under a root. Each file is read once per process, on first use, and
/// its text shared read-only by every worker that builds a classifier from it. Thread-safe.
class cascade_library {
public:
  /// Lists <root>/haarcascades/*.xml and <root>/lbpcascades/*.xml; a missing root lists none.
  explicit cascade_library(std::string root = default_cascade_root);

  /// The cascade names (file names without .xml), sorted: what the `cascade` parameter offers.
  const std::vector<std::string>& names() const { return names_; }

  /// The cascade's XML text. step_failed if the name is not installed or the file cannot be read.
  result<std::shared_ptr<const std::string>> text(const std::string& name) const;

  /// The cascade's file; empty if the name is not installed. OpenCV converts the old Haar format
  /// (haarcascade_licence_plate_rus_16stages) only when it loads it from a file.
  std::string path(const std::string& name) const;

  /// The library of default_cascade_root, listed on first use and shared by the process.
  static std::shared_ptr<const cascade_library> installed();

private:
  std::map<std::string, std::string> paths_; ///< name -> file
  std::vector<std::string> names_;
  mutable std::mutex mutex_;
  mutable std::map<std::string, std::shared_ptr<const std::string>> texts_;
};

/// What a detector keeps of the boxes it found. 0 on a size means no limit.
struct box_filter {
  int min_width = 0;
  int min_height = 0;
  int max_width = 0;
  int max_height = 0;
  double min_confidence = 0;
  int class_id = 0;   ///< reported in every box
  int max_boxes = 50; ///< the most confident are kept
};

struct people_settings {
  double scale_factor = 1.05; ///< between the sizes of the image pyramid
  int min_neighbors = 2;      ///< HOG's group threshold: raw hits a box needs (0: no grouping)
  int win_stride = 8;         ///< pixels between windows: 4 finds more, 16 is faster
  int padding = 16;           ///< pixels added around the image: finds people at its edges
  box_filter boxes;
};

struct cascade_settings {
  std::string cascade; ///< a name from cascade_library::names()
  double scale_factor = 1.1;
  int min_neighbors = 3; ///< raw hits a box needs
  box_filter boxes;
};

/// Told after each detection: the detector ("hog_people" or the cascade's name), the time it
/// took and how many boxes it answered. For per-detector metrics.
using detection_observer =
    std::function<void(const std::string& detector, double seconds, std::size_t boxes)>;

/// One worker's detectors. Not thread-safe: a cv::CascadeClassifier keeps buffers per call, so
/// each worker thread owns one object_detectors, and builds each cascade it uses once, from the
/// library's shared text.
class object_detectors {
public:
  explicit object_detectors(
      std::shared_ptr<const cascade_library> cascades = cascade_library::installed());
  ~object_detectors();
  object_detectors(const object_detectors&) = delete;
  object_detectors& operator=(const object_detectors&) = delete;

  void set_observer(detection_observer observer) { observer_ = std::move(observer); }

  /// People with HOG. An image with nothing in it, or smaller than the 64x128 window, answers no
  /// boxes. Accepts 8-bit images with 1, 3 or 4 channels; step_failed otherwise. The pyramid is
  /// searched level by level, as cv::HOGDescriptor::detectMultiScale does it and with the same
  /// boxes, so that a due `stop` (the deadline passed, the client left) ends it between two
  /// levels, failing with its reason.
  result<std::vector<detection>> people(const cv::Mat& image, const people_settings& settings,
                                        const work_stop& stop = {});

  /// Objects with a cascade. An image with nothing in it, or smaller than the cascade's window,
  /// answers no boxes. Accepts 8-bit images with 1, 3 or 4 channels; step_failed otherwise, and
  /// for a cascade that is not installed here or does not load.
  result<std::vector<detection>> cascade(const cv::Mat& image, const cascade_settings& settings);

private:
  /// Tells the observer of a finished detection and hands its boxes back.
  std::vector<detection> answer(const std::string& detector,
                                std::chrono::steady_clock::time_point start,
                                std::vector<detection> boxes) const;

  struct impl;
  std::shared_ptr<const cascade_library> cascades_;
  std::unique_ptr<impl> impl_;
  detection_observer observer_;
};

/// Maps boxes found in a frame of `frame` size to an image of `input` size by the ratio of the
/// sides: exact after resizes (resize, fit_within, a reduced decode), not after a crop, letterbox
/// or rotation. Boxes are clamped to the input.
void scale_boxes(std::vector<detection>& boxes, cv::Size frame, cv::Size input);

} // namespace imgproc
