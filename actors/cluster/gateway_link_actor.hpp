#pragma once

// Gateway link: on a worker node, one per gateway it joins (--join). Connects to the gateway's
// cluster port, joins with the node actor and its capacity, and watches the gateway: when the
// link is lost (gateway restarted, network cut, heartbeat silence) it connects and joins again,
// with backoff, for as long as the worker runs. A worker may so start before its gateway.
//
///   receives: (connect_atom) from itself: try to (re)connect and join
///             (metrics_atom) from itself every 2 s while joined: report this node's metrics
///             (leave_atom) at shutdown: tell the gateway to send no more jobs
///   answers:  (leave_atom) true once the gateway acknowledged, false if not joined
//
// Connecting blocks (CAF's remote_actor waits for the handshake), so the actor is detached.

#include "actors/cluster/cluster.hpp"
#include "actors/cluster/protocol.hpp"

#include <caf/fwd.hpp>
#include <functional>
#include <string>

namespace imgproc {

struct gateway_address {
  std::string host;
  std::uint16_t port = 0;
  std::string text() const { return host + ":" + std::to_string(port); }
};

struct gateway_link_settings {
  gateway_address gateway;
  cluster_settings cluster;
  node_info info;
  /// Called with a one-line message each time the node has joined (the worker prints it).
  std::function<void(const std::string&)> on_joined;
};

gateway_link_actor spawn_gateway_link(caf::actor_system& sys, node_actor node,
                                      gateway_link_settings settings);

} // namespace imgproc
