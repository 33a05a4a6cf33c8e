#pragma once

// Pipeline catalogue: loads pipelines from PostgreSQL and turns them into runnable plans.
//
///   receives: (get_atom, int pipeline_id)
///   answers:  plan_ptr, shared by every request of that pipeline
///   fails:    pipeline_not_found, pipeline_retired, invalid_pipeline (names the step),
///             database_unavailable
///   receives: (invalidate_atom, int pipeline_id) from the change listener; 0 means all
//
// Plans are cached. PostgreSQL notifies every process of each committed change (LISTEN/NOTIFY,
// see db/change_listener.hpp) and the entry is dropped at once; `cache_ttl` is the fallback that
// bounds staleness should a notification be lost. A burst of requests costs one query. A failed
// load is not cached unless the pipeline itself is missing or invalid. Detached: libpq blocks.

#include "actors/storage/protocol.hpp"
#include "core/step_registry.hpp"

#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace imgproc {

namespace db {
class session;
}

struct pipeline_catalog_settings {
  std::string dsn;
  std::chrono::milliseconds cache_ttl{1000};
  std::chrono::milliseconds statement_timeout{5000};
};

struct pipeline_catalog_state {
  static inline const char* name = "pipeline_catalog";
  struct entry {
    plan_ptr plan;                  ///< set when the pipeline is runnable
    std::optional<failure> problem; ///< set when it is missing or invalid
    std::chrono::steady_clock::time_point loaded_at;
  };
  std::unique_ptr<db::session> session;
  std::shared_ptr<const step_registry> registry;
  std::chrono::milliseconds cache_ttl{1000};
  std::map<int, entry> cache;
};

pipeline_catalog_actor spawn_pipeline_catalog(caf::actor_system& sys,
                                              pipeline_catalog_settings settings,
                                              std::shared_ptr<const step_registry> registry);

} // namespace imgproc
