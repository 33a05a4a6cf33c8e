#pragma once

// How long a live stream waits before reconnecting to a source that failed or ended: doubling
// from `first` up to `cap`, each wait drawn at random from its upper half ("equal jitter"), so
// that many streams whose cameras dropped together do not reconnect in step. A connection that
// delivered frames resets it to `first`.
//
// The random source is injected, so tests get exact waits.

#include <chrono>
#include <cstdint>
#include <functional>
#include <random>

namespace imgproc {

struct backoff_settings {
  std::chrono::milliseconds first{500};
  std::chrono::milliseconds cap{30000};
};

class reconnect_backoff {
public:
  /// `uniform` answers a number in [0, 1); by default a generator seeded from the system.
  explicit reconnect_backoff(backoff_settings settings = {},
                             std::function<double()> uniform = nullptr);

  /// The wait before the next attempt; each call doubles the next one, up to the cap.
  std::chrono::milliseconds next_wait();

  /// The source delivered again: the next failure waits `first` again.
  void reset() { attempt_ = 0; }

  /// Failed attempts since the last reset.
  int attempts() const { return attempt_; }

private:
  backoff_settings settings_;
  std::function<double()> uniform_;
  int attempt_ = 0;
};

} // namespace imgproc
