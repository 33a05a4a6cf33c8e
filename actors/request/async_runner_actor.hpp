#pragma once

// Async runner: one per process that has the database (serve, gateway). It claims queued tasks
// (POST /process-image?async=true) from PostgreSQL and runs each through a pipeline actor, like a
// request without a client. Every such process claims from the same queue with
// FOR UPDATE SKIP LOCKED, so several share the work and none takes a task twice.
//
///   receives: (tick_atom)    from itself every `poll`: claim if there is room
///             (claim_atom)   a task was queued in this process: claim now
///             (done_atom, bool not_now) from a finished run (true: it went back to the queue,
///                                      or the database is away: pause claiming)
///             (requeue_atom) from itself every `requeue_interval`: tasks claimed by processes
///                            that are gone go back to the queue (and uploads of finished tasks
///                            are deleted)
///   answers:  nothing
//
// At most `concurrency` claimed tasks run at once; a run that the dispatcher refuses for lack of
// capacity is released back to the queue, and claiming pauses for a few polls.

#include "actors/request/pipeline_services.hpp"

#include <caf/fwd.hpp>
#include <chrono>

namespace imgproc {

struct async_settings {
  int concurrency = 8;                       ///< claimed tasks running at once
  std::chrono::milliseconds poll{200};       ///< how often the queue is looked at
  std::chrono::milliseconds deadline{30000}; ///< each run's deadline, as a request's
  int max_attempts = 3;                      ///< claims before an abandoned task is failed
  std::chrono::milliseconds requeue_interval{5000};
  /// A claim whose process has no session left is requeued only once it is this old, so a
  /// process whose connections blip (a database restart) is not robbed of its tasks at once.
  std::chrono::seconds requeue_min_age{10};
};

async_runner_actor spawn_async_runner(caf::actor_system& sys, services_ptr services,
                                      async_settings settings);

} // namespace imgproc
