#pragma once

// A small blocking HTTP client for end-to-end tests (libcurl), plus a raw-socket helper for
// requests libcurl will not send (malformed HTTP). Every call has a timeout, so a service that
// never answers fails the test instead of hanging it.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace imgproc::testing {

inline constexpr std::chrono::milliseconds default_http_timeout{30000};

struct http_response {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers; ///< lowercase names; last value wins
  double seconds = 0;                         ///< total time of the exchange

  /// The value of a header (lowercase name), or "" when absent.
  std::string header(const std::string& lowercase_name) const;
};

/// One part of a multipart/form-data body. With a filename it is a file part.
struct form_part {
  std::string name;
  std::string content;
  std::optional<std::string> filename;
  std::optional<std::string> content_type;
};

/// A plain form field.
inline form_part text_field(std::string name, std::string value) {
  return form_part{std::move(name), std::move(value), std::nullopt, std::nullopt};
}

/// A file part.
inline form_part file_field(std::string name, std::string content, std::string filename,
                            std::string content_type = "image/jpeg") {
  return form_part{std::move(name), std::move(content), std::move(filename),
                   std::move(content_type)};
}

/// Throws std::runtime_error on transport errors (connection refused, timeout): tests expecting
/// an HTTP status should never see a transport failure.
http_response get(const std::string& url, std::chrono::milliseconds timeout = default_http_timeout);
http_response post_multipart(const std::string& url, const std::vector<form_part>& parts,
                             std::chrono::milliseconds timeout = default_http_timeout,
                             const std::vector<std::string>& header_lines = {});
http_response post_raw(const std::string& url, const std::string& body,
                       const std::string& content_type,
                       std::chrono::milliseconds timeout = default_http_timeout);

/// Any method (PUT, DELETE, POST, GET) with an optional body and extra header lines such as
/// "Authorization: Bearer x". A non-empty body is sent with `content_type`; an empty one is not
/// sent at all, except for POST and PUT, which send an empty body.
http_response send_request(const std::string& method, const std::string& url,
                           const std::string& body = "",
                           const std::vector<std::string>& header_lines = {},
                           const std::string& content_type = "application/json",
                           std::chrono::milliseconds timeout = default_http_timeout);

/// Writes `request` as-is to host:port and returns every byte the server sends until it closes
/// the connection or one complete response (headers + Content-Length body) has arrived. Returns
/// what arrived so far when `timeout` passes. Throws if it cannot connect.
std::string send_raw(const std::string& host, std::uint16_t port, const std::string& request,
                     std::chrono::milliseconds timeout = default_http_timeout);

} // namespace imgproc::testing
