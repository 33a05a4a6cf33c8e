#include "core/errors.hpp"

namespace imgproc {

const char* to_string(error_code code) {
  switch (code) {
    case error_code::bad_request:
      return "bad_request";
    case error_code::pipeline_not_found:
      return "pipeline_not_found";
    case error_code::payload_too_large:
      return "payload_too_large";
    case error_code::image_too_large:
      return "image_too_large";
    case error_code::unsupported_media_type:
      return "unsupported_media_type";
    case error_code::invalid_pipeline:
      return "invalid_pipeline";
    case error_code::undecodable_image:
      return "undecodable_image";
    case error_code::ml_unavailable:
      return "ml_unavailable";
    case error_code::ml_bad_response:
      return "ml_bad_response";
    case error_code::ml_timeout:
      return "ml_timeout";
    case error_code::database_unavailable:
      return "database_unavailable";
    case error_code::overloaded:
      return "overloaded";
    case error_code::deadline_exceeded:
      return "deadline_exceeded";
    case error_code::internal:
      return "internal";
    case error_code::step_failed:
      return "step_failed";
    case error_code::pipeline_retired:
      return "pipeline_retired";
    case error_code::conflict:
      return "conflict";
    case error_code::unauthorized:
      return "unauthorized";
    case error_code::image_too_small:
      return "image_too_small";
    case error_code::uri_too_long:
      return "uri_too_long";
    case error_code::headers_too_large:
      return "headers_too_large";
    case error_code::task_not_found:
      return "task_not_found";
    case error_code::shutting_down:
      return "shutting_down";
    case error_code::starting_up:
      return "starting_up";
    case error_code::client_gone:
      return "client_gone";
  }
  return "internal";
}

bool is_server_side(error_code code) {
  switch (code) {
    case error_code::ml_unavailable:
    case error_code::ml_bad_response:
    case error_code::ml_timeout:
    case error_code::database_unavailable:
    case error_code::overloaded:
    case error_code::deadline_exceeded:
    case error_code::internal:
    case error_code::shutting_down:
    case error_code::starting_up:
      return true;
    default:
      return false;
  }
}

} // namespace imgproc
