#pragma once

// Job runner: one per job, on the node that runs it. Walks the job's steps through the node's
// stage pools: image workers (decode and transform steps, consecutive ones in one message), local
// detectors and detector clients (the ML call). Every image step of a request so runs on one node
// and a decoded image never leaves it.
//
///   receives: (run_atom, local_job) once, from the node actor (delegated: the answer goes to
///             whoever sent the node the job)
///   answers:  node_result (status and output JSON of the final step)
///   fails:    the failing step's error, its detail prefixed "step N (handler): "; a step still
///             running at the job's deadline fails it with deadline_exceeded
//
// Each stage request carries the time left as its timeout. The runner ends after answering.

#include "actors/cluster/protocol.hpp"
#include "actors/metered.hpp"
#include "actors/stages/stage_pools.hpp"

#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

namespace imgproc {

/// Counts the runner in `jobs` from now until it ends (a draining node waits for zero).
job_runner_actor spawn_job_runner(caf::actor_system& sys, pools_ptr pools, std::string node_name,
                                  load_ptr jobs, meter_ptr meter);

} // namespace imgproc
