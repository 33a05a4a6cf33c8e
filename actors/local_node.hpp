#pragma once

// One node of the actor system: the CAF runtime plus every long-lived actor of `imgproc serve`
// (catalogue, pipeline administration, persistence pool, decoder, preprocessor and
// detector-client pools) and the listener that tells the catalogue of pipeline changes. It is the
// image_service the HTTP front-end talks to: each process() call spawns one pipeline actor, and
// each other call one short-lived actor that awaits its answer.

#include "core/detector_client.hpp"
#include "core/jpeg_decoder.hpp"
#include "core/service_api.hpp"
#include "core/step_registry.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace imgproc {

struct node_settings {
  std::string dsn;
  std::size_t scheduler_threads = 2; ///< CAF worker threads (CPU stages run here)
  std::size_t decoders = 2;          ///< decoder actors
  std::size_t preprocessors = 2;     ///< preprocessor actors
  std::size_t detector_clients = 16; ///< detached ML clients = concurrent ML calls
  std::size_t db_connections = 4;    ///< detached persistence actors, one connection each
  std::chrono::milliseconds pipeline_cache_ttl{1000};
  std::chrono::milliseconds task_read_timeout{5000};
  std::chrono::milliseconds db_statement_timeout{5000}; ///< server-side bound on each statement
  detector_settings detector;
  jpeg_decoder_settings decoder;
};

class local_node final : public image_service {
public:
  local_node(node_settings settings, std::shared_ptr<const step_registry> registry);
  ~local_node() override;

  void process(process_request request, reply_ptr reply) override;
  void get_task(std::int64_t id, reply_ptr reply) override;
  void list_tasks(task_filter filter, reply_ptr reply) override;
  void list_steps(reply_ptr reply) override;
  void list_pipelines(reply_ptr reply) override;
  void get_pipeline(int id, std::optional<int> version, reply_ptr reply) override;
  void create_pipeline(std::string body, reply_ptr reply) override;
  void replace_pipeline(int id, std::string body, reply_ptr reply) override;
  void delete_pipeline(int id, reply_ptr reply) override;
  void check_ready(reply_ptr reply) override;

  /// Refuses new work (503 with Retry-After) and waits up to `grace` for the requests in flight
  /// to be answered and their rows written. Returns whether all of them finished.
  bool drain(std::chrono::milliseconds grace);

  /// Stops every actor and waits until they have all terminated. Call drain() first: requests
  /// still running are cut off (they are answered 500 by their reply channel).
  void stop_actors();

  /// stop_actors(), then tears the actor system down (also done by the destructor). Stop the
  /// HTTP server between the two: see local_node.cpp.
  void shutdown();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace imgproc
