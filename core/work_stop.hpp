#pragma once

// When the work for a request must stop: its deadline passed (the client got 504), or its client
// closed the connection (nobody will read the answer). Checked between steps and inside the long
// loops (the decoder's rows and scans, the HOG pyramid's levels), so that neither a core nor a
// detector is held for an answer that no one waits for.

#include "core/errors.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace imgproc {

struct work_stop {
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  /// Set by the HTTP front-end when the request's connection closes; null when none is watched
  /// (a queued task, a job from another node).
  std::shared_ptr<const std::atomic<bool>> client_gone;

  work_stop() = default;
  /// A deadline alone (implicit: a time point is a stop condition).
  work_stop(std::chrono::steady_clock::time_point d) : deadline(d) {}
  work_stop(std::chrono::steady_clock::time_point d, std::shared_ptr<const std::atomic<bool>> gone)
      : deadline(d), client_gone(std::move(gone)) {}

  bool due() const {
    return (client_gone && client_gone->load(std::memory_order_relaxed)) ||
           std::chrono::steady_clock::now() >= deadline;
  }

  /// Why the work stops, naming what it was `doing`: client_gone or deadline_exceeded.
  failure reason(const std::string& doing) const {
    if (client_gone && client_gone->load(std::memory_order_relaxed))
      return make_failure(error_code::client_gone, "the client closed the connection " + doing);
    return make_failure(error_code::deadline_exceeded, "the request ran out of time " + doing);
  }
};

} // namespace imgproc
