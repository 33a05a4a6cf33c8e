#pragma once

// The ML mock service: a RESTinio server imitating the car-detection model.
//
//   GET  /health          200 {"status":"ok"}
//   POST /ml-process-img  base64 image (raw body or multipart part `image`)
//                         -> 200 [] or [x, y, w, h, conf, 1]; errors {"detail": "..."}
//   anything else         404 {"detail":"Not Found"}, or 405 on a known path

#include "common/options.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace imgproc::ml_mock {

/// Everything the service is configured with; filled from options by settings_from_options().
struct server_settings {
  std::string host = "0.0.0.0";
  std::uint16_t port = 5000; ///< 0 picks a free port; port() tells which
  std::size_t threads = 1;
  std::size_t max_body_bytes = 64 * 1024 * 1024;
  double detect_probability = 0.5;
  std::optional<std::uint64_t> seed; ///< none: seeded from std::random_device
};

/// The option table of the `ml_mock` executable: host, port, seed, detect-probability,
/// threads, max-body-bytes, log-level, each with its ML_MOCK_* (or LOG_LEVEL) variable.
option_set make_options();

/// Reads a parsed option table. Throws option_error for a value out of range.
/// The log level is not part of the settings: main() applies it.
server_settings settings_from_options(const option_set& options);

/// The HTTP server. Not copyable; the destructor stops it.
class server {
public:
  explicit server(server_settings settings);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds and starts serving on `threads` threads; returns once it accepts connections.
  /// Throws std::exception if it cannot bind (or was already started).
  void start();

  /// The bound port (the real one when settings asked for 0); 0 when not running.
  std::uint16_t port() const;

  /// Stops accepting and waits for the server threads to end. Safe to call twice.
  void stop();

  const server_settings& settings() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace imgproc::ml_mock
