#include "tests/support/cluster.hpp"

#include "tests/support/http_client.hpp"
#include "tests/support/stack.hpp"

#include <csignal>
#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace imgproc::testing {
namespace {

// Generous: on the shared 2-core machines a cold start with migrations can take a few seconds.
constexpr std::chrono::milliseconds startup_timeout{30000};
constexpr std::chrono::milliseconds poll_interval{20};

const std::regex ml_ready{R"(^ml_mock listening on http://[^:]+:(\d+)$)"};
const std::regex cluster_ready{R"(^imgproc cluster listening on (\S+:\d+)( \(mutual TLS\))?$)"};
const std::regex http_ready{R"(^imgproc listening on (http://[^:]+:\d+)$)"};

std::string first_group(const std::string& line, const std::regex& pattern) {
  std::smatch match;
  std::regex_search(line, match, pattern);
  return match[1].str();
}

/// `args` with every option named in `overrides` replaced, followed by the overrides.
std::vector<std::string> merged(std::vector<std::string> args,
                                const std::vector<std::string>& overrides) {
  std::vector<std::string> out;
  for (auto& arg : args) {
    bool replaced = false;
    for (const auto& other : overrides)
      replaced = replaced || option_name(other) == option_name(arg);
    if (!replaced)
      out.push_back(std::move(arg));
  }
  out.insert(out.end(), overrides.begin(), overrides.end());
  return out;
}

} // namespace

std::vector<std::string> cluster_tls_args(const std::string& cert, const std::string& key,
                                          const std::string& ca) {
  return {"--cluster-cert=" + cert, "--cluster-key=" + key, "--cluster-ca=" + ca};
}

const std::regex& worker_joined_line() {
  static const std::regex line{R"(^imgproc worker joined \S+ \(gateway [^)]*\) as \S+$)"};
  return line;
}

cluster_stack::cluster_stack(cluster_options options) : options_(std::move(options)) {
  std::ostringstream probability;
  probability << options_.detect_probability;
  ml_mock_ = std::make_unique<child_process>(
      std::vector<std::string>{binary_dir() + "/ml_mock", "--port=0", "--host=127.0.0.1",
                               "--seed=" + std::to_string(options_.ml_seed),
                               "--detect-probability=" + probability.str(), "--log-level=warning"},
      std::map<std::string, std::string>{}, "ml_mock");
  ml_url_ = "http://127.0.0.1:" +
            first_group(ml_mock_->wait_for_line(ml_ready, startup_timeout), ml_ready) +
            "/ml-process-img";

  auto args = merged(merged({"--port=0", "--host=127.0.0.1", "--cluster-port=0",
                             "--db=" + db_.dsn(), "--ml-url=" + ml_url_, "--log-level=info",
                             // Few connections: several stacks may share one private PostgreSQL.
                             "--db-connections=2", "--db-wait-ms=10000"},
                            options_.node_args),
                     options_.gateway_args);
  args.insert(args.begin(), {binary_dir() + "/imgproc", "gateway"});
  gateway_ = std::make_unique<child_process>(std::move(args), std::map<std::string, std::string>{},
                                             "gateway");
  cluster_line_ = gateway_->wait_for_line(cluster_ready, startup_timeout);
  cluster_address_ = first_group(cluster_line_, cluster_ready);
  base_url_ = first_group(gateway_->wait_for_line(http_ready, startup_timeout), http_ready);

  for (const auto& name : options_.workers)
    add_worker(name);
}

cluster_stack::~cluster_stack() {
  // Workers first, so the gateway sees them leave rather than vanish; a stopped one is
  // continued so it can. A clean exit is asserted by the tests that care, not here.
  for (auto& [name, worker] : workers_) {
    if (!worker->running())
      continue;
    ::kill(worker->pid(), SIGCONT);
    ::kill(worker->pid(), SIGTERM);
  }
  std::vector<child_process*> children;
  for (auto& entry : workers_)
    children.push_back(entry.second.get());
  children.push_back(gateway_.get());
  children.push_back(ml_mock_.get());
  for (auto* child : children) {
    if (!child)
      continue;
    try {
      // The workers have their SIGTERM already (sent together, so they leave in parallel):
      // signal 0 only waits. A worker's own watchdog ends it within 5 s.
      bool is_worker = child != gateway_.get() && child != ml_mock_.get();
      child->stop(is_worker ? 0 : SIGTERM, std::chrono::milliseconds(8000));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "cluster_stack: %s\n", e.what());
    }
  }
  workers_.clear();
  gateway_.reset();
  ml_mock_.reset();
}

child_process& cluster_stack::start_worker(const std::string& name,
                                           const std::vector<std::string>& extra_args) {
  if (workers_.count(name))
    throw std::runtime_error("cluster_stack: a worker named " + name + " already exists");
  auto args = merged(merged({"--join=" + cluster_address_, "--node-name=" + name,
                             "--ml-url=" + ml_url_, "--log-level=info"},
                            options_.node_args),
                     extra_args);
  args.insert(args.begin(), {binary_dir() + "/imgproc", "worker"});
  auto& slot = workers_[name];
  slot = std::make_unique<child_process>(std::move(args), std::map<std::string, std::string>{},
                                         "worker-" + name);
  return *slot;
}

child_process& cluster_stack::add_worker(const std::string& name,
                                         const std::vector<std::string>& extra_args) {
  auto& worker = start_worker(name, extra_args);
  worker.wait_for_line(worker_joined_line(), startup_timeout);
  return worker;
}

child_process& cluster_stack::worker(const std::string& name) {
  auto it = workers_.find(name);
  if (it == workers_.end())
    throw std::runtime_error("cluster_stack: no worker named " + name);
  return *it->second;
}

nlohmann::json cluster_stack::cluster_json() const {
  auto response = get(url("/cluster"), std::chrono::milliseconds(5000));
  auto body = nlohmann::json::parse(response.body, nullptr, false);
  if (response.status != 200 || body.is_discarded())
    throw std::runtime_error("GET /cluster answered " + std::to_string(response.status) + ": " +
                             response.body);
  return body;
}

nlohmann::json
cluster_stack::wait_for_cluster(const std::function<bool(const nlohmann::json&)>& done,
                                std::chrono::milliseconds timeout, const std::string& what) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto cluster = cluster_json();
    if (done(cluster))
      return cluster;
    if (std::chrono::steady_clock::now() >= deadline)
      throw std::runtime_error("/cluster did not show " + what + " within " +
                               std::to_string(timeout.count()) + " ms; last: " + cluster.dump());
    std::this_thread::sleep_for(poll_interval); // between polls of /cluster, not a sync point
  }
}

nlohmann::json cluster_stack::wait_for_nodes_up(int count,
                                                std::chrono::milliseconds timeout) const {
  return wait_for_cluster(
      [count](const nlohmann::json& cluster) {
        return cluster.at("totals").at("nodes_up").get<int>() == count;
      },
      timeout, std::to_string(count) + " node(s) up");
}

} // namespace imgproc::testing
