#pragma once

// The typed interfaces of the database-facing actors, and nothing else: a header that only sends
// to them includes this, not the actors' own headers (which declare their state and spawning).
// What each message means is documented beside the actor: persistence_actor.hpp,
// pipeline_catalog_actor.hpp, pipeline_admin_actor.hpp.

#include "actors/messages.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>
#include <cstdint>
#include <string>

namespace imgproc {

/// Writes and reads task rows; a pool of them per process (worker_pool).
using persistence_actor =
    caf::typed_actor<caf::replies_to<create_atom, new_task>::with<std::int64_t>,
                     caf::replies_to<finish_atom, task_outcome>::with<bool>,
                     caf::replies_to<fail_atom, task_failure>::with<bool>,
                     caf::replies_to<get_atom, std::int64_t>::with<task_record>,
                     caf::replies_to<list_atom, task_filter>::with<task_page>,
                     caf::replies_to<ping_atom>::with<std::string>,
                     caf::replies_to<sweep_atom, std::int64_t>::with<std::int64_t>,
                     caf::replies_to<enqueue_atom, new_queued_task>::with<std::int64_t>,
                     caf::replies_to<claim_atom, std::int32_t>::with<claimed_batch>,
                     caf::replies_to<release_atom, task_release>::with<bool>,
                     caf::replies_to<requeue_atom, std::int32_t, std::int64_t>::with<std::int64_t>,
                     caf::reacts_to<flush_atom>>;

/// Loads pipelines and answers runnable plans, cached.
using pipeline_catalog_actor = caf::typed_actor<caf::replies_to<get_atom, int>::with<plan_ptr>,
                                                caf::reacts_to<invalidate_atom, int>>;

/// Lists, reads, creates, replaces and deletes pipelines.
using pipeline_admin_actor =
    caf::typed_actor<caf::replies_to<list_atom>::with<pipeline_list>,
                     caf::replies_to<get_atom, int, int>::with<pipeline_record>,
                     caf::replies_to<create_atom, pipeline_definition>::with<pipeline_record>,
                     caf::replies_to<put_atom, int, pipeline_definition>::with<pipeline_record>,
                     caf::replies_to<delete_atom, int>::with<pipeline_removal>>;

} // namespace imgproc
