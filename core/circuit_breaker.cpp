#include "core/circuit_breaker.hpp"

namespace imgproc {

circuit_breaker::circuit_breaker(breaker_options options, clock_fn clock)
    : options_(options), clock_(std::move(clock)) {
  if (options_.failures_to_open == 0)
    options_.failures_to_open = 1;
}

std::chrono::steady_clock::time_point circuit_breaker::now() const {
  return clock_ ? clock_() : std::chrono::steady_clock::now();
}

void circuit_breaker::refresh(std::chrono::steady_clock::time_point at) const {
  if (state_ == state::open && at >= open_until_)
    state_ = state::half_open;
}

bool circuit_breaker::allow() {
  auto at = now();
  std::lock_guard<std::mutex> lock{mutex_};
  refresh(at);
  switch (state_) {
    case state::closed:
      return true;
    case state::open:
      return false;
    case state::half_open:
      if (probe_in_flight_)
        return false;
      probe_in_flight_ = true;
      return true;
  }
  return false;
}

void circuit_breaker::success() {
  std::lock_guard<std::mutex> lock{mutex_};
  state_ = state::closed;
  failures_ = 0;
  probe_in_flight_ = false;
}

void circuit_breaker::failure() {
  auto at = now();
  std::lock_guard<std::mutex> lock{mutex_};
  ++failures_;
  refresh(at);
  // A failed probe opens the circuit again; so does the Nth consecutive failure. A call let
  // through while closed that fails after the circuit opened leaves the open period alone.
  bool failed_probe = state_ == state::half_open && probe_in_flight_;
  if (failed_probe || (state_ == state::closed && failures_ >= options_.failures_to_open)) {
    state_ = state::open;
    open_until_ = at + options_.open_for;
  }
  if (failed_probe)
    probe_in_flight_ = false;
}

void circuit_breaker::abandon() {
  std::lock_guard<std::mutex> lock{mutex_};
  probe_in_flight_ = false;
}

circuit_breaker::state circuit_breaker::current_state() const {
  auto at = now();
  std::lock_guard<std::mutex> lock{mutex_};
  refresh(at);
  return state_;
}

std::chrono::milliseconds circuit_breaker::retry_in() const {
  auto at = now();
  std::lock_guard<std::mutex> lock{mutex_};
  refresh(at);
  if (state_ != state::open)
    return std::chrono::milliseconds(0);
  return std::chrono::ceil<std::chrono::milliseconds>(open_until_ - at);
}

std::size_t circuit_breaker::consecutive_failures() const {
  std::lock_guard<std::mutex> lock{mutex_};
  return failures_;
}

const char* to_string(circuit_breaker::state s) {
  switch (s) {
    case circuit_breaker::state::closed:
      return "closed";
    case circuit_breaker::state::open:
      return "open";
    case circuit_breaker::state::half_open:
      return "half-open";
  }
  return "?";
}

std::shared_ptr<circuit_breaker> breaker_registry::get(const std::string& url,
                                                       const breaker_options& options) {
  std::lock_guard<std::mutex> lock{mutex_};
  auto& slot = breakers_[url];
  if (!slot)
    slot = std::make_shared<circuit_breaker>(options);
  return slot;
}

breaker_registry& process_breakers() {
  static breaker_registry registry;
  return registry;
}

} // namespace imgproc
