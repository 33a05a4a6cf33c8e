#pragma once

// Task sweeper: one per gateway. Every `interval` it asks a persistence actor to fail the task
// rows that crashed gateways left 'processing' (rows whose owning instance has no live database
// connection and that are older than any request can take). Start-up does the same once; this
// catches a gateway that dies while others keep running on the same database.
//
///   receives: (sweep_atom) from itself, every interval
///   answers:  nothing; logs what it failed

#include "actors/pipeline_services.hpp"

#include <caf/fwd.hpp>
#include <chrono>
#include <memory>

namespace imgproc {

struct sweep_settings {
  std::chrono::milliseconds interval{30000};
  std::chrono::seconds min_age{60}; ///< longer than any request can keep its row processing
};

caf::actor spawn_task_sweeper(caf::actor_system& sys, services_ptr services,
                              sweep_settings settings);

} // namespace imgproc
