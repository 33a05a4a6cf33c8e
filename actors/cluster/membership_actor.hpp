#pragma once

// Membership: what a gateway publishes on its cluster port. Worker nodes join and leave through
// it; it relays both to the dispatcher. It exists so that a peer on the cluster port can send
// exactly these two messages: the dispatcher's other messages (jobs, status) stay local.
//
///   receives: (join_atom, node, node_info)  answers: the gateway's name
///             (leave_atom, node)            answers: true
///             (metrics_atom, name, json)    a node's metrics, kept for GET /metrics; only from
///                                           an actor that joined, under the name it joined as
///   fails:    whatever the dispatcher answers (bad_request for a malformed join)

#include "actors/cluster/protocol.hpp"

#include <caf/fwd.hpp>

namespace imgproc {

membership_actor spawn_membership(caf::actor_system& sys, dispatcher_actor dispatcher);

} // namespace imgproc
