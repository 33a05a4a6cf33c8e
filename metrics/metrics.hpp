#pragma once

// The service's metrics: one registry per process, in the Prometheus text format (prometheus-cpp),
// named like newer CAF's actor metrics so that dashboards made for CAF carry over. CAF 0.17 has no
// metrics of its own (its actor profiler is compiled out of Debian's build), so actors measure
// themselves through an actor_meter (see actors/metered.hpp for how handlers are wrapped).
//
// Every series carries a `node` label (the process's node name). A gateway also holds the latest
// families each worker node reported over the actor link and serves them with its own.
//
// Thread-safe: every function may be called from any thread.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace prometheus {
class Registry;
struct MetricFamily;
} // namespace prometheus

namespace imgproc::metrics {

/// Newer CAF's default buckets for actor histograms, in seconds:
/// 1e-5, 1e-4, 5e-4, 1e-3, 1e-2, 0.1, 0.5, 1, 5.
const std::vector<double>& caf_buckets();

/// The metrics of one actor kind on one node (all instances of a kind share one meter):
///   caf_actor_processing_time_seconds{node,name}   histogram: handling one message
///   caf_actor_mailbox_time_seconds{node,name}      histogram: sent (stamped) to handling start
///   caf_actor_mailbox_size{node,name}              gauge: stamped messages sent, not yet handled
///   caf_actor_processed_messages_total{node,name}  counter
///   caf_actor_failed_messages_total{node,name}     counter: handlers that answered an error
///   caf_system_running_actors{node,name}           gauge
///   caf_system_rejected_messages_total{node,name}  counter: refused for capacity
class actor_meter {
public:
  virtual ~actor_meter() = default;
  /// At the sender, just before a message to this kind is sent: the mailbox grows by one and the
  /// send time is stamped. The actor's handler pops stamps in FIFO order, so call it exactly
  /// once per message that the actor handles with `stamped = true`.
  virtual void sent() = 0;
  /// Handling of one message begins; returns the start time to pass to handled().
  virtual std::chrono::steady_clock::time_point begin(bool stamped) = 0;
  /// Handling ended: processing time since `start`, processed (+1), failed (+1 if `failed`).
  virtual void handled(std::chrono::steady_clock::time_point start, bool failed) = 0;
  virtual void actor_started() = 0;
  virtual void actor_stopped() = 0;
  virtual void rejected() = 0;
};

class registry {
public:
  /// `node` labels every series of this process.
  explicit registry(std::string node);
  ~registry();
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  const std::string& node() const;

  /// The meter of an actor kind (created on first use; the same object for the same name).
  std::shared_ptr<actor_meter> actor(const std::string& name);

  // -- service metrics ------------------------------------------------------------------------
  /// imgproc_http_requests_total{node,route,status} and
  /// imgproc_http_request_duration_seconds{node,route} (histogram)
  void http_request(const std::string& route, int status, double seconds);
  /// imgproc_http_requests_in_flight{node} (gauge)
  void http_in_flight(int delta);
  /// imgproc_tasks_total{node,pipeline,outcome}: outcome detected|undetected|processed|failed
  void task_finished(int pipeline_id, const std::string& outcome);
  /// imgproc_step_duration_seconds{node,handler} (histogram)
  void step_duration(const std::string& handler, double seconds);
  /// imgproc_local_detector_duration_seconds{node,detector} (histogram) and
  /// imgproc_local_detector_boxes_total{node,detector}: detector is hog_people or a cascade's name
  void local_detection(const std::string& detector, double seconds, std::size_t boxes);
  /// imgproc_ml_call_duration_seconds{node} (histogram), imgproc_ml_call_failures_total{node}
  void ml_call(double seconds, bool ok);
  /// imgproc_db_write_duration_seconds{node,operation} (histogram),
  /// imgproc_db_write_failures_total{node,operation}; operation create|finish|fail
  void db_write(const std::string& operation, double seconds, bool ok);
  /// imgproc_db_write_batch_rows{node} (histogram): task row writes of different requests that
  /// one persistence actor wrote together (one statement and commit per kind of write)
  void db_write_batch(std::size_t rows);
  /// imgproc_pipeline_reloads_total{node}: a plan (re)loaded from the database
  void pipeline_reload();
  /// imgproc_dispatch_queue_length{node} (gauge), imgproc_dispatch_in_flight{node} (gauge)
  void dispatch_state(std::size_t queue_length, std::size_t in_flight);
  /// imgproc_dispatch_rejected_total{node,reason}: reason queue_full|no_nodes
  void dispatch_rejected(const std::string& reason);
  /// imgproc_cluster_nodes_up{node} (gauge, on a gateway)
  void nodes_up(std::size_t count);
  /// imgproc_async_tasks_total{node,event}: event claimed|released|requeued (asynchronous
  /// tasks this process claimed, put back for lack of capacity, or requeued from dead processes)
  void async_tasks(const std::string& event, std::size_t count = 1);
  /// imgproc_async_running{node} (gauge): claimed tasks this process runs now
  void async_running(int count);

  // -- node links -----------------------------------------------------------------------------
  /// caf_middleman_outbound_messages_total{node}, caf_middleman_outbound_bytes_total{node},
  /// caf_middleman_inbound_messages_total{node}, caf_middleman_inbound_bytes_total{node},
  /// caf_middleman_serialization_time_seconds{node} (histogram),
  /// caf_middleman_deserialization_time_seconds{node} (histogram). Bytes are the payload bytes
  /// of the job and result messages (the upload, steps, output JSON), not CAF's framing.
  void link_out(std::size_t bytes, double serialize_seconds);
  void link_in(std::size_t bytes, double deserialize_seconds);

  // -- exposition -----------------------------------------------------------------------------
  /// Refreshes the process metrics (process_cpu_seconds_total, process_resident_memory_bytes,
  /// process_open_fds, process_start_time_seconds, all {node}) and returns the Prometheus text
  /// of this process's families merged with every remote node's (one HELP/TYPE per family).
  std::string scrape();
  /// This process's families as compact JSON, for a worker to send its gateway.
  std::string export_json();
  /// Keeps the families a remote node sent (replacing what it sent before); they are served by
  /// scrape() until forget_remote(), or until 10 s pass without a new report. Throws
  /// std::invalid_argument on malformed JSON or a report over 1 MiB / 512 families.
  void import_remote(const std::string& node, const std::string& json);
  void forget_remote(const std::string& node);

  /// The process-wide registry the node links report to (set once at start-up by the app;
  /// null in processes that have none, e.g. unit tests: then link_out/in are no-ops).
  static void set_process_registry(std::shared_ptr<registry> r);
  static std::shared_ptr<registry> process_registry();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace imgproc::metrics
