#pragma once

// The RESTinio front-end. Parses and checks requests, hands work to the image_service and
// returns `request_accepted()` at once: the answer is written later, from whatever thread the
// service answers on. RESTinio's headers stay inside server.cpp.

#include "core/image_service.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace imgproc {

namespace metrics {
class registry;
}

struct http_settings {
  std::string host = "0.0.0.0";
  std::uint16_t port = 8000; ///< 0 picks a free port; port() tells which
  std::size_t threads = 2;
  std::size_t max_upload_bytes = 20u << 20;
  std::chrono::milliseconds request_timeout{30000}; ///< the whole pipeline's deadline
  std::chrono::milliseconds handle_timeout{38000};  ///< RESTinio's limit for an answer
  std::uint64_t max_image_pixels = 50'000'000; ///< refused from the JPEG header, before any work
  int min_image_side = 1; ///< images narrower or lower than this are refused (422), from the header
  std::size_t max_url_bytes = 8192;     ///< longer request targets get 414
  std::size_t max_header_bytes = 32768; ///< more header bytes (names + values) get 431
  /// A client that sends nothing for this long (before or within a request) is disconnected.
  std::chrono::milliseconds read_timeout{60000};
  std::size_t max_connections = 1024;
  /// When set, POST/PUT/DELETE on /pipelines need `Authorization: Bearer <token>`.
  std::string admin_token;
  /// Serves GET /metrics and counts every exchange; none: no metrics.
  std::shared_ptr<metrics::registry> metrics;
};

class http_server {
public:
  http_server(http_settings settings, image_service& service);
  /// A worker node's port: /metrics, /health, /ready and the documentation; every route of the
  /// service answers 404 naming the gateway as the place to send requests.
  explicit http_server(http_settings settings);
  ~http_server();

  /// Binds and starts serving; throws std::runtime_error if the address cannot be bound.
  void start();
  /// Stops accepting and waits for the I/O threads. Meant for process exit: the stopped server
  /// is kept until the process ends (a RESTinio 0.6.16 shutdown bug, see server.cpp).
  void stop();
  std::uint16_t port() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace imgproc
