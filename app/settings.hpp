#pragma once

// The options of `imgproc serve` and `imgproc migrate`, parsed once into settings structs.

#include "actors/local_node.hpp"
#include "common/log.hpp"
#include "common/options.hpp"
#include "http/server.hpp"

#include <chrono>
#include <string>

namespace imgproc {

struct serve_settings {
  http_settings http;
  node_settings node;
  std::string dsn; ///< resolved from --db or the POSTGRES_* parts
  bool migrate_on_start = true;
  std::chrono::milliseconds db_wait{30000};
  std::chrono::milliseconds shutdown_grace{25000};
  log::level log_level = log::level::info;
};

/// The option table of `imgproc serve` (also used by `migrate`, which ignores what it needn't).
option_set make_serve_options();

/// Throws option_error with a message for the user.
serve_settings read_serve_settings(const option_set& options);

} // namespace imgproc
