#pragma once

// The request logic of the ML mock, free of RESTinio so it can be tested as plain functions.

#include <cstddef>
#include <string>
#include <string_view>

namespace imgproc::ml_mock {

class box_generator;

/// What a handler answers: an HTTP status and a JSON body (Content-Type application/json).
struct http_reply {
  int status = 200;
  std::string body;
};

/// `{"detail": "..."}` with the given status: the error shape of every endpoint.
http_reply error_reply(int status, std::string_view detail);

/// Handles `POST /ml-process-img`.
///
/// The image arrives as base64 text: the `image` part of a multipart/form-data body (as the
/// original Python client sent it), or else the whole body, whatever its content type.
/// Answers 200 with `[]` or one box `[x, y, w, h, conf, 1]` drawn from `boxes`;
/// 400 for an empty body, a multipart body without a usable `image` part, or text that is not
/// base64; 413 when `body` is longer than `max_body_bytes`. Does not throw for bad input.
http_reply handle_detect(box_generator& boxes, std::string_view content_type, std::string_view body,
                         std::size_t max_body_bytes);

} // namespace imgproc::ml_mock
