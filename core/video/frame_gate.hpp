#pragma once

// Back-pressure between a stream's reader and the pipeline its frames go through. At most
// `max_in_flight` sampled frames are in the pipeline at once.
//
// - A file is read as fast as the pipeline takes it, and every sampled frame is processed: when
//   the pipeline is full the reader waits (offer() answers `wait`) until a frame is done.
// - A live source never waits, or it would fall behind the camera: when the pipeline is full a
//   new frame takes the one waiting place, and a frame already waiting there is dropped. So the
//   pipeline always gets the newest frame next, and a slow pipeline costs frames, not latency.
//
// Plain state with no locks and no clock: the stream's actor owns it, and feeds it what its
// reader and its pipeline say.

#include <cstdint>
#include <optional>
#include <utility>

namespace imgproc {

enum class stream_source_kind { file, live };

template <class Frame> class frame_gate {
public:
  enum class verdict {
    send, ///< into the pipeline now
    hold, ///< waits for room (live): sent by a later done()
    wait, ///< the pipeline is full (file): offer it again after done()
  };

  frame_gate(stream_source_kind kind, int max_in_flight)
      : kind_(kind), max_in_flight_(max_in_flight < 1 ? 1 : max_in_flight) {}

  /// The reader has a sampled frame. On `send` the caller sends it (it counts as in flight); on
  /// `hold` the gate keeps it; on `wait` the caller keeps it and offers it again later.
  verdict offer(Frame& frame) {
    if (in_flight_ < max_in_flight_) {
      ++in_flight_;
      return verdict::send;
    }
    if (kind_ == stream_source_kind::file)
      return verdict::wait;
    if (held_)
      ++dropped_;
    held_ = std::move(frame);
    return verdict::hold;
  }

  /// A frame left the pipeline (processed or failed). Answers the held frame to send now, if any
  /// (it then counts as in flight).
  std::optional<Frame> done() {
    if (in_flight_ > 0)
      --in_flight_;
    if (!held_)
      return std::nullopt;
    ++in_flight_;
    return std::exchange(held_, std::nullopt);
  }

  int in_flight() const { return in_flight_; }
  bool holding() const { return held_.has_value(); }
  /// Frames a newer one replaced before they were sent (live sources only).
  std::int64_t dropped() const { return dropped_; }

private:
  stream_source_kind kind_;
  int max_in_flight_;
  int in_flight_ = 0;
  std::optional<Frame> held_;
  std::int64_t dropped_ = 0;
};

} // namespace imgproc
