#pragma once

// Task sweeper: one per gateway. Every `interval` it asks a persistence actor to fail the task
// rows still 'processing' after `min_age`, longer than any request lives: rows of a gateway that
// died while others kept running on the same database, and rows whose final write was lost
// (a write that timed out here but committed later). Start-up already failed the rows of
// gateways that were gone then.
//
///   receives: (sweep_atom) from itself, every interval
///   answers:  nothing; logs what it failed

#include "actors/storage/protocol.hpp"
#include "actors/worker_pool.hpp"

#include <caf/fwd.hpp>
#include <chrono>
#include <memory>

namespace imgproc {

struct sweep_settings {
  std::chrono::milliseconds interval{30000};
  std::chrono::seconds min_age{60}; ///< longer than any request can keep its row processing
};

using persistence_pool_ptr = std::shared_ptr<worker_pool<persistence_actor>>;

/// Sends each sweep to the least-loaded actor of `persistence`.
caf::actor spawn_task_sweeper(caf::actor_system& sys, persistence_pool_ptr persistence,
                              sweep_settings settings);

} // namespace imgproc
