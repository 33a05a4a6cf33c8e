#pragma once

// Errors on the request path are values: every stage returns either its output or a `failure`
// naming what went wrong. The front-end alone maps each code to its HTTP status, through one table
// (http/api_json.hpp), so every handler and every role answers the same way.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace imgproc {

enum class error_code : std::uint8_t {
  bad_request = 1,        ///< malformed request (400)
  pipeline_not_found,     ///< no such pipeline (404)
  payload_too_large,      ///< upload over the configured limit (413)
  image_too_large,        ///< declared dimensions over the configured limit (413)
  unsupported_media_type, ///< not a JPEG (415)
  invalid_pipeline,       ///< the stored pipeline does not validate (422)
  undecodable_image,      ///< a JPEG that does not decode (422)
  ml_unavailable,         ///< ML service unreachable or answered an error (502)
  ml_bad_response,        ///< ML service answered something that is not a detection (502)
  ml_timeout,             ///< ML service slower than its timeout (502)
  database_unavailable,   ///< PostgreSQL unreachable or failing (503)
  overloaded,             ///< no capacity left (503)
  deadline_exceeded,      ///< the request ran out of time (504)
  internal,               ///< a bug: should never be seen (500)
  // Appended, not grouped with the 422s above: the numeric values travel as CAF error codes, so
  // existing ones must not shift.
  step_failed,       ///< a step cannot apply to this image, e.g. a crop outside it (422)
  pipeline_retired,  ///< the pipeline was deleted but keeps its history (410)
  conflict,          ///< e.g. a pipeline title already in use (409)
  unauthorized,      ///< a mutating call without the admin token (401)
  image_too_small,   ///< declared dimensions under the configured minimum (422)
  uri_too_long,      ///< request target over the configured limit (414)
  headers_too_large, ///< request header fields over the configured limit (431)
  task_not_found,    ///< no such task (404)
  shutting_down,     ///< the process is draining: retry on another instance (503)
  starting_up,       ///< the start-up work on the database is not done yet (503)
  client_gone,       ///< the client closed the connection before its answer (499: never sent)
};

/// Stable snake_case name, used in logs and stored task errors.
const char* to_string(error_code code);

/// Whether the service, not the caller, is at fault (or just unable now): logged as a warning.
bool is_server_side(error_code code);

struct failure {
  error_code code = error_code::internal;
  std::string detail;
};

inline failure make_failure(error_code code, std::string detail) {
  return failure{code, std::move(detail)};
}

/// Either a value or a failure. Small on purpose: just what the stages need.
template <class T> class result {
public:
  result(T value) : state_(std::move(value)) {}
  result(failure f) : state_(std::move(f)) {}

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(state_); }
  const T& value() const { return std::get<0>(state_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }
  const failure& error() const { return std::get<1>(state_); }

private:
  std::variant<T, failure> state_;
};

/// A step either succeeds (nullopt) or fails.
using status = std::optional<failure>;

} // namespace imgproc
