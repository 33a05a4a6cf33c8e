#pragma once

// What flows from one pipeline step to the next inside one process.
//
// A payload is owned by exactly one stage at a time (it travels as a shared_ptr, moved from hop to
// hop) so no step's output is ever copied. The uploaded JPEG is not copied either: `bytes` views
// the HTTP request's body and `owner` keeps the request alive. A payload never crosses a node
// boundary: it is deliberately not serializable.

#include "core/work_stop.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <opencv2/core/mat.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace imgproc {

/// The type of a step's input or output; consecutive steps must agree. `detection` is the ML
/// service's one box (or none); `detections` is every box a local detector found.
enum class value_kind { jpeg_bytes, image, encoded_bytes, base64_text, detection, detections };

const char* to_string(value_kind kind);

struct dry_run_trace;

/// One box in the original service's shape.
struct detection {
  int top_left_x = 0;
  int top_left_y = 0;
  int width = 0;
  int height = 0;
  double confidence = 0;
  int class_id = 0;
};

struct payload {
  value_kind kind = value_kind::jpeg_bytes;
  std::shared_ptr<const void> owner; ///< keeps `bytes` alive
  std::string_view bytes;            ///< jpeg_bytes: the upload as received
  cv::Mat image;                     ///< image: reference-counted, never deep-copied between hops
  std::string text;                  ///< encoded_bytes or base64_text
  std::optional<detection> found;    ///< detection: nullopt when nothing was found
  std::vector<detection> boxes;      ///< detections: best first, empty when nothing was found
  /// The uploaded image's size as decoded at full scale (EXIF orientation applied), set by the
  /// decode step: where a detector's scale_to_input maps its boxes. 0 before decoding.
  int input_width = 0;
  int input_height = 0;
  /// encoded_bytes: what the last encode step produced ("jpeg" or "png") and the encoded image's
  /// size; the cv::Mat is released once encoded, so the final output is described from these.
  std::string format;
  int encoded_width = 0;
  int encoded_height = 0;
  /// The request's deadline: a stage drops an expired job, and a blocking call (the ML request)
  /// never waits past it.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  /// Set when the request's client closed its connection (the HTTP front-end watches it); null
  /// when nobody is watched (a queued task, a job that came from another node).
  std::shared_ptr<const std::atomic<bool>> client_gone;
  /// A share of a limit the work holds while it runs (a dry-run slot): released with the payload.
  std::shared_ptr<const void> work_slot;
  /// When the work on this payload must stop (core/work_stop.hpp).
  work_stop stop() const { return {deadline, client_gone}; }
  /// Set for a dry run: the stage actors record every step into it (core/dry_run.hpp).
  std::shared_ptr<dry_run_trace> trace;
};

using payload_ptr = std::shared_ptr<payload>;

} // namespace imgproc
