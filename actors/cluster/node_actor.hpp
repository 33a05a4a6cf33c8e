#pragma once

// Node actor: a node's entry point for jobs, local or from a gateway over the network. One per
// process that runs image work (`serve`, `worker`, and `gateway` with --capacity > 0).
//
///   receives: (run_atom, node_job) from a gateway's dispatcher
///             (leave_atom) when the node shuts down: later jobs are refused, to be re-sent
///   answers:  node_result, delegated to a fresh job runner (which answers the dispatcher)
///   fails:    invalid_pipeline / bad_request when this node cannot plan the steps (e.g. an older
///             binary without a step kind), deadline_exceeded when the job arrives too late
//
// Planning is cached by pipeline version (plan_cache), so a job costs one spawn and the steps.
// Cheap and never blocking: runs on the scheduler.

#include "actors/cluster/protocol.hpp"
#include "actors/stages/stage_pools.hpp"
#include "core/step_registry.hpp"

#include <caf/fwd.hpp>
#include <memory>
#include <string>

namespace imgproc {

/// `running_jobs` counts the node's jobs in flight, for draining and for the node's own status.
node_actor spawn_node(caf::actor_system& sys, pools_ptr pools,
                      std::shared_ptr<const step_registry> registry, std::string node_name,
                      load_ptr running_jobs);

} // namespace imgproc
