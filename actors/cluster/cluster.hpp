#pragma once

// How nodes of one cluster talk: CAF's middleman over TCP, optionally with mutual TLS
// (caf_openssl), and heartbeats so that a hung node is noticed. Every node of a cluster must use
// the same heartbeat settings (a node without them drops links to nodes that send none) and,
// with TLS, certificates signed by the same CA. Checked facts behind this:
// docs/notes-caf-cluster.md.

#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace imgproc {

struct cluster_settings {
  /// Address the gateway's cluster port binds to: loopback unless configured.
  std::string host = "127.0.0.1";
  bool listen = false;       ///< a gateway listens; `serve` only when asked to
  std::uint16_t port = 4242; ///< 0 picks a free port
  /// Heartbeat interval and the silence after which a link is closed (0 = off).
  std::chrono::milliseconds heartbeat{500};
  std::chrono::milliseconds link_timeout{2000};
  /// Mutual TLS: all three files, or none. Any node without a certificate signed by `ca_file` is
  /// refused during the handshake.
  std::string certificate_file;
  std::string key_file;
  std::string key_passphrase;
  std::string ca_file;

  bool tls() const { return !certificate_file.empty(); }
};

/// Loads the middleman (and the OpenSSL manager when tls()), sets the heartbeat and registers
/// every type in node_protocol.hpp. Call before constructing the actor system.
void configure_cluster(caf::actor_system_config& config, const cluster_settings& settings);

/// Defined in tls_error_queue.cpp; calling it keeps that file's OpenSSL fix in the executable.
void keep_tls_error_queue_guard();

/// How CAF's scheduler hands actors to its threads. `sharing`: one queue, idle threads sleep on a
/// condition variable. `stealing` (CAF's default): a queue per thread, idle threads poll and
/// steal, sleeping 50 us between polls for a while before they block. On 2 cores under load,
/// sharing serves about 5% more requests/s (BENCHMARKS.md, "Scheduler"), so it is the default.
enum class scheduler_policy { sharing, stealing };

/// What every node's actor system needs: `scheduler_threads` CAF worker threads under `policy`,
/// CAF's own logs off (the service logs through common/log), and the `imgproc` error category
/// for rendering.
void configure_node_basics(caf::actor_system_config& config, std::size_t scheduler_threads,
                           scheduler_policy policy);

/// Registers the cluster's message types only (for a process that never opens a link).
void register_cluster_types(caf::actor_system_config& config);

/// Publishes `membership` on the cluster port; returns the port bound.
caf::expected<std::uint16_t> publish_membership(caf::actor_system& sys,
                                                const caf::strong_actor_ptr& membership,
                                                const cluster_settings& settings);

/// Connects to a gateway's cluster port (blocking: call from a detached actor or thread).
caf::expected<caf::strong_actor_ptr> connect_to_gateway(caf::actor_system& sys,
                                                        const std::string& host, std::uint16_t port,
                                                        const cluster_settings& settings);

} // namespace imgproc
