#pragma once

// The options of every `imgproc` command, parsed once into settings structs. All roles share one
// table, so one environment (a compose file, a systemd unit) configures any of them; each role's
// defaults differ where its job does (a gateway runs no jobs itself and listens for workers).

#include "actors/nodes/gateway_node.hpp"
#include "actors/nodes/worker_node.hpp"
#include "common/log.hpp"
#include "common/options.hpp"
#include "http/server.hpp"

#include <chrono>
#include <optional>
#include <string>

namespace imgproc {

enum class role { serve, gateway, worker, migrate };

struct serve_settings {
  imgproc::role role = role::serve;
  http_settings http;
  gateway_settings node;
  worker_settings worker;                           ///< for role::worker
  std::optional<std::uint16_t> worker_metrics_port; ///< a worker's own /metrics, when set
  std::string dsn;                                  ///< resolved from --db or the POSTGRES_* parts
  bool migrate_on_start = true;
  std::chrono::milliseconds db_wait{30000};
  std::chrono::milliseconds shutdown_grace{25000};
  log::level log_level = log::level::info;
};

/// The option table of a command (`migrate` uses serve's and ignores what it needn't).
option_set make_options(role r);

/// Throws option_error with a message for the user.
serve_settings read_serve_settings(const option_set& options, role r);

} // namespace imgproc
