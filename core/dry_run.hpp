#pragma once

// A dry run's record of each step: what the step was, how long it took, what it produced, and a
// small preview of every image it produced (with the boxes drawn on a detector's). The stage
// actors call record_step() after each step of a payload that carries a trace; the trace then
// travels back with the job's result as JSON (previews are encoded JPEG, never pixels), so the
// studio can show each step's effect without a task being stored.

#include "core/payload.hpp"
#include "core/pipeline_plan.hpp"

#include <cstddef>
#include <nlohmann/json.hpp>
#include <opencv2/core/mat.hpp>
#include <string>
#include <vector>

namespace imgproc {

/// The long side of a preview, at most, in pixels.
inline constexpr int dry_run_preview_side = 320;

struct dry_run_trace {
  /// One object per step that ran, in order:
  ///   {"index": 1-based, "handler", "params" (defaults filled in), "time_ms",
  ///    "output": describe_output(), "preview": {"width", "height", "data_url"} or null}
  nlohmann::json steps = nlohmann::json::array();
  cv::Mat last_image; ///< the latest image a step produced: where the ML step's box is drawn
};

/// The payload's output described, not its content: output_json()'s fields with "kind" always
/// set, plus "bytes" (the pixel data's size) for an image and "boxes" for detections.
nlohmann::json describe_output(const payload& data);

/// `image` scaled down (never up) so that its long side is at most `max_side`, with `boxes`
/// (given in coordinates of an image of size `box_space`) drawn on it, as a JPEG data URL:
/// {"width", "height", "data_url": "data:image/jpeg;base64,..."}. null if it cannot be made.
nlohmann::json preview_json(const cv::Mat& image, const std::vector<detection>& boxes,
                            cv::Size box_space, int max_side = dry_run_preview_side);

/// Appends step `index` of `plan` to `trace`: it ran in `seconds`, took `before` (the image the
/// payload held before it, empty if none) and left `after`. Never throws.
void record_step(dry_run_trace& trace, const pipeline_plan& plan, std::size_t index,
                 const cv::Mat& before, const payload& after, double seconds);

} // namespace imgproc
