#pragma once

// A worker node (`imgproc worker`): the stage actors and a node actor, joined to one or more
// gateways. It runs whole jobs (every image step of a request) and writes nothing to the
// database: the gateway that sent a job owns its task row.

#include "actors/cluster/cluster.hpp"
#include "actors/cluster/gateway_link_actor.hpp"
#include "actors/stages/stage_pools.hpp"
#include "core/step_registry.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace imgproc {

struct worker_settings {
  std::size_t scheduler_threads = 2;
  scheduler_policy scheduler = scheduler_policy::sharing;
  stage_settings stages;
  std::string node_name;
  std::string address; ///< how the node describes itself (host name, process id)
  int capacity = 8;    ///< jobs this node runs at once, advertised to every gateway
  cluster_settings cluster;
  std::vector<gateway_address> gateways;
  std::function<void(const std::string&)> on_joined;
};

class worker_node {
public:
  worker_node(worker_settings settings, std::shared_ptr<const step_registry> registry);
  ~worker_node();
  worker_node(const worker_node&) = delete;
  worker_node& operator=(const worker_node&) = delete;

  /// Tells every gateway to send no more jobs, then waits up to `grace` for the jobs running
  /// here to finish. Returns whether they all did.
  bool leave(std::chrono::milliseconds grace);

  /// Jobs running on this node now.
  int running_jobs() const;

  /// Stops every actor and tears the actor system down.
  void shutdown();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace imgproc
