#pragma once

// A circuit breaker for calls to one remote service (the ML service), shared by every caller
// in the process.
//
//   closed    ── N consecutive failures ──▶ open
//   open      ── open_for has passed ──────▶ half-open (lets one probe call through)
//   half-open ── the probe succeeds ───────▶ closed
//   half-open ── the probe fails ──────────▶ open, for another open_for
//
// Closed lets every call through and counts consecutive failures (a success resets the count).
// Open refuses every call at once until `open_for` has passed. Half-open lets exactly one probe
// through and refuses the others until the probe reports. Thread-safe; the clock is injectable
// for tests.

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace imgproc {

struct breaker_options {
  /// Consecutive failures that open the circuit.
  std::size_t failures_to_open = 5;
  /// How long an open circuit refuses calls before it lets one probe through.
  std::chrono::milliseconds open_for{2000};
};

class circuit_breaker {
public:
  using clock_fn = std::function<std::chrono::steady_clock::time_point()>;
  enum class state { closed, open, half_open };

  explicit circuit_breaker(breaker_options options = {}, clock_fn clock = {});

  /// Whether a call may go ahead now. When it returns true the caller must report the call's
  /// outcome with exactly one of success(), failure() or abandon().
  bool allow();
  /// The call worked: the circuit closes and the failure count resets.
  void success();
  /// The call failed: counts toward opening; a failed probe opens the circuit again.
  void failure();
  /// The call ended without telling whether the service works (e.g. the caller's own deadline
  /// cut it short): nothing is counted, and a half-open circuit lets another probe through.
  void abandon();

  /// The state now (an open circuit whose time is up reads as half-open).
  state current_state() const;
  /// Time until an open circuit lets a probe through (zero unless open).
  std::chrono::milliseconds retry_in() const;
  /// Consecutive failures counted so far (what opened the circuit, while it is open).
  std::size_t consecutive_failures() const;
  const breaker_options& options() const { return options_; }

private:
  std::chrono::steady_clock::time_point now() const;
  /// Moves an open circuit whose time is up to half-open. Caller holds the mutex.
  void refresh(std::chrono::steady_clock::time_point now) const;

  breaker_options options_;
  clock_fn clock_;
  mutable std::mutex mutex_;
  mutable state state_ = state::closed;
  std::size_t failures_ = 0;
  bool probe_in_flight_ = false;
  std::chrono::steady_clock::time_point open_until_{};
};

const char* to_string(circuit_breaker::state s);

/// One breaker per URL. The first call for a URL creates its breaker with `options`; later calls
/// return the same one.
class breaker_registry {
public:
  std::shared_ptr<circuit_breaker> get(const std::string& url, const breaker_options& options);

private:
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<circuit_breaker>> breakers_;
};

/// The process-wide registry: every detector client of the process shares its breakers.
breaker_registry& process_breakers();

} // namespace imgproc
