#pragma once

// The typed interfaces of the cluster's actors, and nothing else: what crosses a node boundary
// (node_protocol.hpp) plus the in-process handles of the dispatcher, a worker's gateway link and
// a job runner. A header that only sends to them includes this, not the actors' own headers.

#include "actors/cluster/node_protocol.hpp"
#include "actors/messages.hpp"

#include <atomic>
#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>
#include <cstdint>
#include <memory>
#include <string>

namespace imgproc {

/// What the dispatcher would do with a new job, published after every change so that the HTTP
/// side can refuse work at once, before a pipeline actor or a task row exists. A hint: the
/// dispatcher still decides each job itself.
enum class admission_state { accepting, no_nodes, full };
using admission_ptr = std::shared_ptr<std::atomic<admission_state>>;
/// Requests refused for want of capacity outside the dispatch table (refused up front, or with
/// no node up); /cluster reports them with the table's own in `queue.rejected`.
using refusal_counter = std::shared_ptr<std::atomic<std::uint64_t>>;

/// The dispatcher (dispatcher_actor.hpp). A wrong message is a compile error. The expiry message is
/// the dispatcher's own timer; down messages of nodes arrive through its down handler.
using dispatcher_actor =
    caf::typed_actor<caf::replies_to<run_atom, node_job>::with<node_result>,
                     caf::replies_to<join_atom, caf::actor, node_info>::with<std::string>,
                     caf::replies_to<leave_atom, caf::actor>::with<bool>,
                     caf::replies_to<status_atom>::with<cluster_view>,
                     caf::replies_to<ping_atom>::with<bool>,
                     caf::reacts_to<expire_atom, std::uint64_t>>;

/// A worker node's link to a gateway (gateway_link_actor.hpp); connect and metrics are its own
/// timers.
using gateway_link_actor =
    caf::typed_actor<caf::reacts_to<connect_atom>, caf::reacts_to<metrics_atom>,
                     caf::replies_to<leave_atom>::with<bool>>;

/// Job runner (job_runner_actor.hpp): one per job, on the node that runs it.
/// A job as the node prepared it: its plan and the payload (the upload, not yet decoded).
struct local_job {
  plan_ptr plan;
  payload_ptr data;
};

using job_runner_actor = caf::typed_actor<caf::replies_to<run_atom, local_job>::with<node_result>>;

} // namespace imgproc

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(imgproc::local_job)
