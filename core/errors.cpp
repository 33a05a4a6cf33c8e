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
  }
  return "internal";
}

int http_status(error_code code) {
  switch (code) {
    case error_code::bad_request:
      return 400;
    case error_code::pipeline_not_found:
      return 404;
    case error_code::payload_too_large:
    case error_code::image_too_large:
      return 413;
    case error_code::unsupported_media_type:
      return 415;
    case error_code::invalid_pipeline:
    case error_code::undecodable_image:
    case error_code::step_failed:
    case error_code::image_too_small:
      return 422;
    case error_code::uri_too_long:
      return 414;
    case error_code::headers_too_large:
      return 431;
    case error_code::pipeline_retired:
      return 410;
    case error_code::conflict:
      return 409;
    case error_code::unauthorized:
      return 401;
    case error_code::ml_unavailable:
    case error_code::ml_bad_response:
    case error_code::ml_timeout:
      return 502;
    case error_code::database_unavailable:
    case error_code::overloaded:
      return 503;
    case error_code::deadline_exceeded:
      return 504;
    case error_code::internal:
      return 500;
  }
  return 500;
}

} // namespace imgproc
