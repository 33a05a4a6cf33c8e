#include "core/video/reconnect_backoff.hpp"

#include <algorithm>
#include <memory>

namespace imgproc {

reconnect_backoff::reconnect_backoff(backoff_settings settings, std::function<double()> uniform)
    : settings_(settings), uniform_(std::move(uniform)) {
  if (settings_.first.count() < 1)
    settings_.first = std::chrono::milliseconds(1);
  settings_.cap = std::max(settings_.cap, settings_.first);
  if (!uniform_) {
    auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
    uniform_ = [engine] { return std::uniform_real_distribution<double>(0, 1)(*engine); };
  }
}

std::chrono::milliseconds reconnect_backoff::next_wait() {
  // first * 2^attempt, capped; the shift is bounded so that it cannot overflow.
  auto ceiling = settings_.first.count() << std::min(attempt_, 30);
  ceiling = std::min<std::int64_t>(ceiling, settings_.cap.count());
  ++attempt_;
  auto half = ceiling / 2;
  auto jitter = static_cast<std::int64_t>(uniform_() * static_cast<double>(ceiling - half));
  return std::chrono::milliseconds(half + std::clamp<std::int64_t>(jitter, 0, ceiling - half));
}

} // namespace imgproc
