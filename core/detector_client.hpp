#pragma once

// HTTP client of the ML service: POSTs a base64 image, parses the box it answers.
//
// One client owns one libcurl easy handle and so one kept-alive connection; it is not thread-safe.
// Each detector-client actor owns its own. Calls block, so they run on detached actors only.

#include "core/circuit_breaker.hpp"
#include "core/errors.hpp"
#include "core/payload.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

struct curl_slist;

namespace imgproc {

struct detector_settings {
  std::string url = "http://127.0.0.1:5000/ml-process-img";
  std::chrono::milliseconds timeout{5000};
  std::chrono::milliseconds connect_timeout{1000};
  /// URL prefixes a pipeline's detect step may name besides `url`. Pipelines are edited over
  /// the API, so an arbitrary URL would let a client make this service call anything.
  std::vector<std::string> allowed_urls;
  /// Further attempts after a transient failure (unreachable, HTTP 5xx, timeout), within the
  /// request's deadline.
  int retries = 2;
  /// First pause before a retry; it doubles each time (with jitter), capped at the time left.
  std::chrono::milliseconds retry_backoff{50};
  /// The circuit breaker of each ML URL (see circuit_breaker.hpp).
  breaker_options breaker{};
  /// Where the breakers live; null means the process-wide registry, shared by every client.
  std::shared_ptr<breaker_registry> breakers{};
};

/// Whether a detect step may call `url` under these settings.
bool url_allowed(const detector_settings& settings, const std::string& url);

/// Parses the ML service's answer: `[]`, one box `[x, y, w, h, conf, label]`, or a list of such
/// boxes (the most confident one is kept). Anything else is an ml_bad_response failure.
result<std::optional<detection>> parse_ml_answer(std::string_view body);

/// Calls curl_global_init once; call it from main before starting threads.
void init_http_client_library();

class detector_client {
public:
  explicit detector_client(detector_settings settings);
  ~detector_client();
  detector_client(const detector_client&) = delete;
  detector_client& operator=(const detector_client&) = delete;

  /// `url` empty means the configured one; `timeout` (of one attempt) zero means the configured
  /// one. Transient failures are retried with backoff, never past `deadline`; an attempt cut
  /// short by the deadline fails with deadline_exceeded. A circuit breaker shared by every client
  /// of the URL refuses calls at once (ml_unavailable) while the service keeps failing.
  result<std::optional<detection>> detect(std::string_view base64_image, const std::string& url,
                                          std::chrono::milliseconds timeout,
                                          std::chrono::steady_clock::time_point deadline =
                                              std::chrono::steady_clock::time_point::max());

  const detector_settings& settings() const { return settings_; }

private:
  /// One HTTP call; `transient` tells whether another attempt may work.
  result<std::optional<detection>> attempt(std::string_view base64_image, const std::string& target,
                                           std::chrono::milliseconds limit, bool& transient);

  detector_settings settings_;
  std::minstd_rand jitter_{std::random_device{}()};
  void* curl_ = nullptr; // CURL*, kept to reuse its connection
  ::curl_slist* headers_ = nullptr;
  std::string response_;
  /// The url a step last named (empty: --ml-url) and the URL called for it: checked and parsed
  /// once, not on every call (the settings do not change, and a pipeline rarely names one).
  std::optional<std::string> checked_url_;
  std::string checked_target_;
};

} // namespace imgproc
