#pragma once

// The long-lived actors of one node that every per-request pipeline actor sends work to.
// Built once at start-up (see gateway_node) and shared read-only; the persistence pool's counters
// are atomic, so any pipeline actor on any scheduler thread may pick a worker.

#include "actors/cluster/protocol.hpp"
#include "actors/request/protocol.hpp"
#include "actors/storage/protocol.hpp"
#include "actors/worker_pool.hpp"
#include "core/request_budget.hpp"

#include <atomic>
#include <chrono>
#include <memory>

namespace imgproc {

struct pipeline_services {
  /// Timeout of one database request. Independent of the request's deadline: a row write that
  /// was sent is waited for, so the actor always learns whether the row exists.
  std::chrono::milliseconds db_timeout{6000};
  /// Pipeline actors alive now; shutdown waits for it to reach zero.
  std::atomic<int> running_pipelines{0};

  pipeline_catalog_actor catalog;
  worker_pool<persistence_actor> persistence;
  /// Sends each request's image work to a node: this process's own or a worker's.
  dispatcher_actor dispatcher;
  /// The dispatcher's latest word on new jobs (see dispatcher_actor.hpp).
  admission_ptr admission;
  /// The dispatcher's meter: a pipeline actor stamps each job it sends (mailbox time).
  std::shared_ptr<metrics::actor_meter> dispatcher_meter;
  /// The pipeline actors' meter, looked up once rather than per request.
  std::shared_ptr<metrics::actor_meter> pipeline_meter;
  refusal_counter refused = std::make_shared<std::atomic<std::uint64_t>>(0);

  /// A row's final write that failed while the database was away is retried (with backoff) for
  /// this long, so the row ends failed rather than 'processing'; the sweeper is the backstop.
  std::chrono::milliseconds row_close_window{60000};
  /// Asynchronous mode: at most this many tasks queued; told of each task queued here (a
  /// claim_atom), so it need not wait for its next poll.
  int async_queue_limit = 10000;
  async_runner_actor async_runner;
  /// What one request may cost: checked when its plan is known, before any of its work.
  budget_limits budget;
};

using services_ptr = std::shared_ptr<pipeline_services>;

} // namespace imgproc
