#include "actors/nodes/worker_node.hpp"

#include "actors/cluster/node_actor.hpp"
#include "actors/messages.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <thread>

namespace imgproc {

struct worker_node::impl {
  worker_settings settings;
  caf::actor_system_config config;
  std::unique_ptr<caf::actor_system> system;
  pools_ptr pools;
  load_ptr running = std::make_shared<load_counter>();
  node_actor node;
  std::vector<gateway_link_actor> links;

  impl(worker_settings s, std::shared_ptr<const step_registry> registry) : settings(std::move(s)) {
    configure_node_basics(config, settings.scheduler_threads, settings.scheduler);
    configure_cluster(config, settings.cluster);
    system = std::make_unique<caf::actor_system>(config);
    pools = spawn_stage_pools(*system, settings.stages);
    node = spawn_node(*system, pools, std::move(registry), settings.node_name, running);
    for (const auto& gateway : settings.gateways) {
      gateway_link_settings link;
      link.gateway = gateway;
      link.cluster = settings.cluster;
      link.info = node_info{settings.node_name, settings.address, settings.capacity, false};
      link.on_joined = settings.on_joined;
      links.push_back(spawn_gateway_link(*system, node, std::move(link)));
    }
  }

  bool leave(std::chrono::milliseconds grace) {
    auto give_up = std::chrono::steady_clock::now() + grace;
    {
      caf::scoped_actor self{*system};
      // The node first: a job already on its way when a gateway hears we leave is refused and
      // re-sent elsewhere instead of starting here after the wait below has ended.
      self->request(node, std::chrono::seconds(3), leave_atom::value)
          .receive([](bool) {}, [](caf::error&) {});
      for (const auto& link : links)
        self->request(link, std::chrono::seconds(3), leave_atom::value)
            .receive([](bool) {}, [](caf::error&) {});
    }
    // Jobs already sent finish here; polling a counter during shutdown is simpler than a
    // condition variable shared with every job runner.
    while (running->jobs() > 0) {
      if (std::chrono::steady_clock::now() >= give_up)
        return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }

  void shutdown() {
    if (!system)
      return;
    for (const auto& link : links)
      caf::anon_send_exit(link, caf::exit_reason::user_shutdown);
    links.clear();
    if (node)
      caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
    node = nullptr;
    if (pools)
      stop_stage_pools(*pools);
    pools.reset();
    system->await_all_actors_done();
    system.reset();
  }
};

worker_node::worker_node(worker_settings settings, std::shared_ptr<const step_registry> registry)
    : impl_(std::make_unique<impl>(std::move(settings), std::move(registry))) {}

worker_node::~worker_node() {
  impl_->shutdown();
}

bool worker_node::leave(std::chrono::milliseconds grace) {
  return impl_->leave(grace);
}

int worker_node::running_jobs() const {
  return impl_->running->jobs();
}

void worker_node::shutdown() {
  impl_->shutdown();
}

} // namespace imgproc
