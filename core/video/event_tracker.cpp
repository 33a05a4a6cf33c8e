#include "core/video/event_tracker.hpp"

#include <algorithm>
#include <utility>

namespace imgproc {

event_tracker::event_tracker(double gap_ms) : gap_ms_(std::max(0.0, gap_ms)) {}

std::optional<stream_event> event_tracker::add(double pts_ms, std::int64_t frame_index,
                                               const std::vector<detection>& boxes) {
  std::optional<stream_event> closed;
  if (open_ && pts_ms - open_->end_ms > gap_ms_) {
    closed = std::move(open_);
    open_.reset();
  }
  if (boxes.empty())
    return closed;
  const auto& best =
      *std::max_element(boxes.begin(), boxes.end(), [](const detection& a, const detection& b) {
        return a.confidence < b.confidence;
      });
  if (!open_) {
    open_ = stream_event{pts_ms, pts_ms, 0, frame_index, frame_index, best};
  } else if (best.confidence > open_->best.confidence) {
    open_->best = best;
  }
  open_->end_ms = pts_ms;
  open_->last_frame = frame_index;
  ++open_->frames;
  return closed;
}

std::optional<stream_event> event_tracker::finish() {
  return std::exchange(open_, std::nullopt);
}

} // namespace imgproc
