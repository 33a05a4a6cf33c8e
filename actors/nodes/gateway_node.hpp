#pragma once

// A gateway: the CAF runtime plus every long-lived actor behind the HTTP front-end (catalogue,
// pipeline administration, persistence pool, dispatcher) and the listener that tells the
// catalogue of pipeline changes. It is the image_service the HTTP front-end talks to: each
// process() call spawns one pipeline actor, and each other call one short-lived actor that awaits
// its answer.
//
// The image work of each request runs on a node chosen by the dispatcher: this process itself
// when `capacity` > 0 (`imgproc serve`, the all-in-one default), and every worker node that
// joined through the cluster port (`imgproc gateway`, `imgproc worker --join`).

#include "actors/cluster/cluster.hpp"
#include "actors/request/async_runner_actor.hpp"
#include "actors/stages/stage_pools.hpp"
#include "actors/storage/task_sweeper_actor.hpp"
#include "core/image_service.hpp"
#include "core/step_registry.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

namespace imgproc {

struct gateway_settings {
  std::string dsn;
  std::size_t scheduler_threads = 2; ///< CAF worker threads (CPU stages run here)
  scheduler_policy scheduler = scheduler_policy::sharing;
  std::size_t db_connections = 4;  ///< detached persistence actors, one connection each
  std::size_t db_write_group = 64; ///< most row writes one persistence actor writes together
  std::chrono::milliseconds pipeline_cache_ttl{1000};
  std::chrono::milliseconds task_read_timeout{5000};
  std::chrono::milliseconds db_statement_timeout{5000}; ///< server-side bound on each statement
  /// This process as a node: its name in /cluster, and how many jobs it runs itself at once
  /// (0: none, every job goes to worker nodes).
  std::string node_name = "local";
  int capacity = 8;
  stage_settings stages;         ///< used when capacity > 0
  std::size_t queue_limit = 256; ///< jobs waiting for a free node; beyond it 503
  cluster_settings cluster;      ///< cluster.listen: accept worker nodes
  sweep_settings sweep;          ///< failing rows of gateways that crashed
  async_settings async;          ///< claiming and running queued tasks
  int async_queue_limit = 10000; ///< queued tasks beyond which ?async=true gets 503
  int dry_run_limit = 4;         ///< dry runs at once beyond which a dry run gets 503
};

class gateway_node final : public image_service {
public:
  gateway_node(gateway_settings settings, std::shared_ptr<const step_registry> registry);
  ~gateway_node() override;

  void process(process_request request, answer_ptr<task_answer> answer) override;
  void dry_run(dry_run_request request, answer_ptr<dry_run_answer> answer) override;
  void get_task(std::int64_t id, answer_ptr<task_record> answer) override;
  void list_tasks(task_filter filter, answer_ptr<task_page> answer) override;
  void list_steps(answer_ptr<step_list> answer) override;
  void list_pipelines(answer_ptr<pipeline_list> answer) override;
  void get_pipeline(int id, std::optional<int> version,
                    answer_ptr<pipeline_record> answer) override;
  void create_pipeline(std::string body, answer_ptr<pipeline_record> answer) override;
  void replace_pipeline(int id, std::string body, answer_ptr<pipeline_record> answer) override;
  void delete_pipeline(int id, answer_ptr<pipeline_removal> answer) override;
  void check_ready(answer_ptr<service_ready> answer) override;
  void cluster_status(answer_ptr<cluster_view> answer) override;

  /// The cluster port bound, when the gateway accepts worker nodes.
  std::optional<std::uint16_t> cluster_port() const;

  /// While not empty, /ready answers 503 with this reason: the start-up work on the database
  /// (migrations, requeueing abandoned tasks) has not been done yet. Thread-safe.
  void set_startup_problem(std::string problem);

  /// Refuses new work (503 with Retry-After) and waits up to `grace` for the requests in flight
  /// to be answered and their rows written. Returns whether all of them finished.
  bool drain(std::chrono::milliseconds grace);

  /// Stops every actor and waits until they have all terminated. Call drain() first: requests
  /// still running are cut off (they are answered `internal` by their answer channel).
  void stop_actors();

  /// stop_actors(), then tears the actor system down (also done by the destructor). Stop the
  /// HTTP server between the two: see gateway_node.cpp.
  void shutdown();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace imgproc
