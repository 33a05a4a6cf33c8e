#pragma once

// Turns a stream's per-frame results into events: "something was in view from 12.4 s to 19.0 s".
// An event opens at the first frame with a detection and stays open while detections keep coming
// no more than `gap_ms` apart on the source's clock; the first frame (with or without a detection)
// more than `gap_ms` after the event's last detection closes it. An event spans its first to its
// last detection and keeps its most confident box.
//
// Fed in timestamp order, one processed frame at a time; plain logic, no clock of its own.

#include "core/payload.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace imgproc {

struct stream_event {
  double start_ms = 0;          ///< the first detection's timestamp
  double end_ms = 0;            ///< the last detection's timestamp
  std::int64_t frames = 0;      ///< processed frames with a detection in the event
  std::int64_t first_frame = 0; ///< frame index of the first detection
  std::int64_t last_frame = 0;  ///< frame index of the last detection
  detection best;               ///< the most confident box of the event
};

class event_tracker {
public:
  /// The stream's `event_gap_ms` (2000 unless the stream sets it).
  explicit event_tracker(double gap_ms = 2000);

  /// One processed frame: its timestamp, index and boxes (none: nothing detected). Answers the
  /// event this frame closed, if it closed one (a new event may open on the same frame).
  std::optional<stream_event> add(double pts_ms, std::int64_t frame_index,
                                  const std::vector<detection>& boxes);

  /// The stream ended: the open event, if any, closed at its last detection.
  std::optional<stream_event> finish();

  /// The event still open, if any (what a live view shows).
  const std::optional<stream_event>& open_event() const { return open_; }

private:
  double gap_ms_;
  std::optional<stream_event> open_;
};

} // namespace imgproc
