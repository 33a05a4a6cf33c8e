#pragma once

// Dispatcher: one per gateway. Knows the nodes that run jobs (the gateway's own node, if it has
// capacity, and every worker node that joined) and sends each job to the least-loaded one
// (dispatch_table holds the rules). When every node is full, jobs wait in a bounded queue; beyond
// it they are refused at once with `overloaded` (503 with Retry-After).
//
///   receives: (run_atom, node_job)        answers: node_result from the node that ran it
///             (join_atom, actor, node_info) answers: the gateway's name (from membership)
///             (leave_atom, actor)         answers: true; the node gets no new jobs
///             (status_atom)               answers: cluster_view (GET /cluster)
///             (ping_atom)                 answers: whether any node can take jobs (/ready)
///             (expire_atom, job id)       from itself at a job's deadline
///   fails:    overloaded (no node, or queue full), deadline_exceeded, or the node's own error
//
// Failures: every node is monitored. When one goes down (killed, its link lost, or its
// heartbeat stopped: CAF's middleman then closes the link), its jobs in flight are sent to
// another node within their deadline. A request to a node whose answer is lost is retried the
// same way. Each job carries an attempt number; an answer from an earlier attempt (a node that
// was presumed dead but finished anyway) is ignored, so the requester gets exactly one answer.
// Re-running is safe: nodes do not write task rows, the gateway's pipeline actor does, once.

#include "actors/cluster/protocol.hpp"

#include <atomic>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace imgproc {

struct dispatcher_settings {
  std::string gateway_name;
  std::size_t queue_limit = 256;
  /// How often one job may be moved to another node after its node failed.
  int max_attempts = 3;
  admission_ptr admission =
      std::make_shared<std::atomic<admission_state>>(admission_state::no_nodes);
  refusal_counter refused = std::make_shared<std::atomic<std::uint64_t>>(0);
};

dispatcher_actor spawn_dispatcher(caf::actor_system& sys, dispatcher_settings settings);

} // namespace imgproc
