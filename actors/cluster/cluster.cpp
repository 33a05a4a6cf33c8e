#include "actors/cluster/cluster.hpp"

#include "actors/cluster/node_protocol.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>
#include <caf/openssl/remote_actor.hpp>

namespace imgproc {

void configure_node_basics(caf::actor_system_config& config, std::size_t scheduler_threads,
                           scheduler_policy policy) {
  config.set("scheduler.max-threads", scheduler_threads);
  config.set("scheduler.policy",
             policy == scheduler_policy::sharing ? caf::atom("sharing") : caf::atom("stealing"));
  config.set("logger.file-verbosity", caf::atom("quiet"));
  config.set("logger.console-verbosity", caf::atom("quiet"));
  config.add_error_category(error_category, render_error);
}

void register_cluster_types(caf::actor_system_config& config) {
  config.add_message_type<node_job>("imgproc.node_job");
  config.add_message_type<node_result>("imgproc.node_result");
  config.add_message_type<node_info>("imgproc.node_info");
}

void configure_cluster(caf::actor_system_config& config, const cluster_settings& s) {
  // Links tls_error_queue.cpp into every binary that can open TLS node links.
  keep_tls_error_queue_guard();
  register_cluster_types(config);
  config.load<caf::io::middleman>();
  config.set("middleman.heartbeat-interval", caf::timespan{s.heartbeat});
  config.set("middleman.connection-timeout", caf::timespan{s.link_timeout});
  if (s.tls()) {
    config.load<caf::openssl::manager>();
    config.openssl_certificate = s.certificate_file;
    config.openssl_key = s.key_file;
    config.openssl_passphrase = s.key_passphrase;
    config.openssl_cafile = s.ca_file;
  }
}

caf::expected<std::uint16_t> publish_membership(caf::actor_system& sys,
                                                const caf::strong_actor_ptr& membership,
                                                const cluster_settings& s) {
  auto handle = caf::actor_cast<membership_actor>(membership);
  if (s.tls())
    return caf::openssl::publish(handle, s.port, s.host.c_str(), true);
  return sys.middleman().publish(handle, s.port, s.host.c_str(), true);
}

caf::expected<caf::strong_actor_ptr> connect_to_gateway(caf::actor_system& sys,
                                                        const std::string& host, std::uint16_t port,
                                                        const cluster_settings& s) {
  // The typed call checks that the gateway publishes the membership interface this binary
  // speaks: a gateway of an incompatible version is refused here, not at the first job.
  caf::expected<membership_actor> gateway =
      s.tls() ? caf::openssl::remote_actor<membership_actor>(sys, host, port)
              : sys.middleman().remote_actor<membership_actor>(host, port);
  if (!gateway)
    return gateway.error();
  return caf::actor_cast<caf::strong_actor_ptr>(*gateway);
}

} // namespace imgproc
