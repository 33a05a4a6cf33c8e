#pragma once

// The long-lived actors of one node that every per-request pipeline actor sends work to.
// Built once at start-up (see local_node) and shared read-only; the worker pools' counters are
// atomic, so any pipeline actor on any scheduler thread may pick a worker.

#include "actors/persistence_actor.hpp"
#include "actors/pipeline_catalog_actor.hpp"
#include "actors/stage_actor.hpp"
#include "actors/worker_pool.hpp"

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
  worker_pool<stage_actor> decoders;
  worker_pool<stage_actor> preprocessors;
  worker_pool<stage_actor> detectors;

  worker_pool<stage_actor>& pool_for(stage_kind stage) {
    switch (stage) {
      case stage_kind::decode:
        return decoders;
      case stage_kind::transform:
        return preprocessors;
      case stage_kind::detect:
        return detectors;
    }
    return preprocessors;
  }
};

using services_ptr = std::shared_ptr<pipeline_services>;

} // namespace imgproc
