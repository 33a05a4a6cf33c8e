#pragma once

// A cluster for one end-to-end test: ml_mock, an `imgproc gateway` against a scratch database,
// and `imgproc worker` nodes that join it, all real processes on ports the kernel picks.
//
//   test ──HTTP──> gateway ──cluster link (CAF, optionally mutual TLS)──> worker w1, w2, ...
//                     │                                                      │
//                     └──SQL──> scratch database              ML ──HTTP──> ml_mock
//
// Readiness is what the processes print: the gateway's "cluster listening" and "listening on"
// lines, and each worker's "joined" line. Nothing here sleeps to wait for start-up.

#include "tests/support/postgres.hpp"
#include "tests/support/process.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

namespace imgproc::testing {

struct cluster_options {
  std::uint64_t ml_seed = 42;
  double detect_probability = 0.5;
  /// Workers started with the cluster (each waited for until it has joined).
  std::vector<std::string> workers{"w1", "w2"};
  /// "--name=value" options for every node, gateway and workers alike (heartbeat, timeout...).
  std::vector<std::string> node_args;
  /// Options for the gateway only (e.g. its TLS certificate).
  std::vector<std::string> gateway_args;
};

/// "--cluster-cert=CERT", "--cluster-key=KEY", "--cluster-ca=CA".
std::vector<std::string> cluster_tls_args(const std::string& cert, const std::string& key,
                                          const std::string& ca);

/// A worker's "imgproc worker joined HOST:PORT (gateway NAME) as NAME" line.
const std::regex& worker_joined_line();

class cluster_stack {
public:
  /// Starts ml_mock, the gateway and the workers. Throws (with the end of the process's stderr)
  /// if one does not come up.
  explicit cluster_stack(cluster_options options = {});
  /// Stops the workers, the gateway and ml_mock, then drops the database.
  ~cluster_stack();
  cluster_stack(const cluster_stack&) = delete;
  cluster_stack& operator=(const cluster_stack&) = delete;

  /// Starts a worker named `name` (the node args, then `extra_args`, which replace options of
  /// the same name) and waits for its "joined" line.
  child_process& add_worker(const std::string& name,
                            const std::vector<std::string>& extra_args = {});
  /// Starts a worker without waiting for anything.
  child_process& start_worker(const std::string& name,
                              const std::vector<std::string>& extra_args = {});
  /// A worker started by this stack; throws if there is none of that name.
  child_process& worker(const std::string& name);
  child_process& gateway() { return *gateway_; }

  /// "http://127.0.0.1:PORT" + path on the gateway.
  std::string url(const std::string& path) const { return base_url_ + path; }
  /// HOST:PORT workers join.
  const std::string& cluster_address() const { return cluster_address_; }
  /// The gateway's "imgproc cluster listening on ..." line.
  const std::string& cluster_line() const { return cluster_line_; }
  const std::string& ml_url() const { return ml_url_; }
  const std::string& dsn() const { return db_.dsn(); }

  /// GET /cluster, parsed. Throws unless it answers 200 with JSON.
  nlohmann::json cluster_json() const;
  /// Polls /cluster until `done` holds, and returns that answer. Throws, quoting the last
  /// answer, after `timeout`.
  nlohmann::json wait_for_cluster(const std::function<bool(const nlohmann::json&)>& done,
                                  std::chrono::milliseconds timeout, const std::string& what) const;
  /// Waits until /cluster reports exactly `count` nodes up.
  nlohmann::json wait_for_nodes_up(int count, std::chrono::milliseconds timeout) const;

private:
  cluster_options options_;
  scratch_database db_;
  std::unique_ptr<child_process> ml_mock_;
  std::unique_ptr<child_process> gateway_;
  std::map<std::string, std::unique_ptr<child_process>> workers_;
  std::string ml_url_;
  std::string base_url_;
  std::string cluster_address_;
  std::string cluster_line_;
};

} // namespace imgproc::testing
