#include "metrics/metrics.hpp"

#include "metrics/actor_meters.hpp"
#include "metrics/families.hpp"
#include "metrics/family_json.hpp"
#include "metrics/family_merge.hpp"
#include "metrics/process_families.hpp"

#include <map>
#include <mutex>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <utility>

namespace imgproc::metrics {

namespace {

using namespace detail;
using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;
using prometheus::MetricFamily;

std::mutex process_registry_mutex;
std::shared_ptr<registry> process_registry_ptr; // guarded by process_registry_mutex

} // namespace

const std::vector<double>& caf_buckets() {
  static const std::vector<double> buckets{1e-5, 1e-4, 5e-4, 1e-3, 1e-2, 0.1, 0.5, 1, 5};
  return buckets;
}

struct registry::impl {
  explicit impl(std::string node_name)
      : node(std::move(node_name)), prom(std::make_shared<prometheus::Registry>()),
        processing_time(histogram("caf_actor_processing_time_seconds",
                                  "Time an actor needed to handle one message.")),
        mailbox_time(histogram("caf_actor_mailbox_time_seconds",
                               "Time a message waited between its send and its handling.")),
        mailbox_size(
            gauge("caf_actor_mailbox_size", "Messages sent to an actor, not yet handled.")),
        processed(counter("caf_actor_processed_messages_total", "Messages handled by actors.")),
        failed(counter("caf_actor_failed_messages_total",
                       "Messages whose handler answered with an error.")),
        running(gauge("caf_system_running_actors", "Actors running.")),
        rejected(counter("caf_system_rejected_messages_total",
                         "Messages refused for lack of capacity.")),
        http_requests(counter("imgproc_http_requests_total", "HTTP requests answered."),
                      {"route", "status"}),
        http_duration(histogram("imgproc_http_request_duration_seconds",
                                "Time from an HTTP request's arrival to its response."),
                      {"route"}),
        http_in_flight(
            gauge("imgproc_http_requests_in_flight", "HTTP requests being handled.").Add({})),
        tasks(counter("imgproc_tasks_total", "Tasks finished, by pipeline and outcome."),
              {"pipeline", "outcome"}),
        steps(histogram("imgproc_step_duration_seconds", "Time one pipeline step took."),
              {"handler"}),
        local_detector_duration(histogram("imgproc_local_detector_duration_seconds",
                                          "Time one local detection took, by detector."),
                                {"detector"}),
        local_detector_boxes(counter("imgproc_local_detector_boxes_total",
                                     "Boxes the local detectors answered, by detector."),
                             {"detector"}),
        ml_duration(histogram("imgproc_ml_call_duration_seconds", "Time one ML call took.")
                        .Add({}, caf_buckets())),
        ml_failures(counter("imgproc_ml_call_failures_total", "ML calls that failed.").Add({})),
        db_duration(histogram("imgproc_db_write_duration_seconds", "Time one database write took."),
                    {"operation"}),
        db_failures(counter("imgproc_db_write_failures_total", "Database writes that failed."),
                    {"operation"}),
        db_batch_rows(histogram("imgproc_db_write_batch_rows",
                                "Task row writes of different requests written together (one "
                                "statement and commit per kind).")
                          .Add({}, Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128, 256})),
        reloads(counter("imgproc_pipeline_reloads_total", "Pipeline plans (re)loaded.").Add({})),
        queue_length(gauge("imgproc_dispatch_queue_length", "Jobs waiting for a node.").Add({})),
        dispatch_in_flight(
            gauge("imgproc_dispatch_in_flight", "Jobs sent to nodes, not yet answered.").Add({})),
        dispatch_rejected(counter("imgproc_dispatch_rejected_total", "Jobs refused by dispatch."),
                          {"reason"}),
        nodes_up(gauge("imgproc_cluster_nodes_up", "Worker nodes reachable.").Add({})),
        async_tasks(counter("imgproc_async_tasks_total",
                            "Asynchronous tasks claimed, released or requeued by this process."),
                    {"event"}),
        async_running(
            gauge("imgproc_async_running", "Claimed asynchronous tasks running now.").Add({})),
        out_messages(counter("caf_middleman_outbound_messages_total",
                             "Job and result messages sent to other nodes.")
                         .Add({})),
        out_bytes(counter("caf_middleman_outbound_bytes_total",
                          "Payload bytes of the messages sent to other nodes.")
                      .Add({})),
        in_messages(counter("caf_middleman_inbound_messages_total",
                            "Job and result messages received from other nodes.")
                        .Add({})),
        in_bytes(counter("caf_middleman_inbound_bytes_total",
                         "Payload bytes of the messages received from other nodes.")
                     .Add({})),
        serialization(histogram("caf_middleman_serialization_time_seconds",
                                "Time to serialize one message for another node.")
                          .Add({}, caf_buckets())),
        deserialization(histogram("caf_middleman_deserialization_time_seconds",
                                  "Time to deserialize one message from another node.")
                            .Add({}, caf_buckets())) {}

  Family<Counter>& counter(const std::string& name, const std::string& help) {
    return make_family(prometheus::BuildCounter(), *prom, node, name, help);
  }
  Family<Gauge>& gauge(const std::string& name, const std::string& help) {
    return make_family(prometheus::BuildGauge(), *prom, node, name, help);
  }
  Family<Histogram>& histogram(const std::string& name, const std::string& help) {
    return make_family(prometheus::BuildHistogram(), *prom, node, name, help);
  }

  /// This process's families, process metrics refreshed.
  std::vector<MetricFamily> collect() {
    auto families = prom->Collect();
    append_process_families(families, node);
    return families;
  }

  const std::string node;
  const std::shared_ptr<prometheus::Registry> prom;

  Family<Histogram>& processing_time;
  Family<Histogram>& mailbox_time;
  Family<Gauge>& mailbox_size;
  Family<Counter>& processed;
  Family<Counter>& failed;
  Family<Gauge>& running;
  Family<Counter>& rejected;

  series<Counter> http_requests;
  series<Histogram> http_duration;
  Gauge& http_in_flight;
  series<Counter> tasks;
  series<Histogram> steps;
  series<Histogram> local_detector_duration;
  series<Counter> local_detector_boxes;
  Histogram& ml_duration;
  Counter& ml_failures;
  series<Histogram> db_duration;
  series<Counter> db_failures;
  Histogram& db_batch_rows;
  Counter& reloads;
  Gauge& queue_length;
  Gauge& dispatch_in_flight;
  series<Counter> dispatch_rejected;
  Gauge& nodes_up;
  series<Counter> async_tasks;
  Gauge& async_running;
  Counter& out_messages;
  Counter& out_bytes;
  Counter& in_messages;
  Counter& in_bytes;
  Histogram& serialization;
  Histogram& deserialization;

  std::mutex meters_mutex;
  std::map<std::string, std::shared_ptr<actor_meter>> meters;

  struct remote_report {
    std::vector<MetricFamily> families;
    std::chrono::steady_clock::time_point received;
  };
  std::mutex remote_mutex;
  std::map<std::string, remote_report> remote;
};

/// A node's report older than this is dropped from scrapes: nodes report every 2 s, so one
/// that stopped (or a late report that arrived after forget_remote) does not linger.
constexpr std::chrono::seconds remote_report_ttl{10};

registry::registry(std::string node) : impl_(std::make_unique<impl>(std::move(node))) {
  // Both reasons are exported from the start at 0, so rate() and alerts on them work before the
  // first refusal (and a dashboard query never names a series that does not exist yet).
  for (const char* reason : {"queue_full", "no_nodes"})
    impl_->dispatch_rejected.at({reason});
}

registry::~registry() = default;

const std::string& registry::node() const {
  return impl_->node;
}

std::shared_ptr<actor_meter> registry::actor(const std::string& name) {
  auto& d = *impl_;
  std::lock_guard<std::mutex> lock(d.meters_mutex);
  auto& slot = d.meters[name];
  if (!slot) {
    const prometheus::Labels labels{{"name", name}};
    meter_series series{&d.processing_time.Add(labels, caf_buckets()),
                        &d.mailbox_time.Add(labels, caf_buckets()),
                        &d.mailbox_size.Add(labels),
                        &d.processed.Add(labels),
                        &d.failed.Add(labels),
                        &d.running.Add(labels),
                        &d.rejected.Add(labels)};
    slot = make_actor_meter(d.prom, series);
  }
  return slot;
}

void registry::http_request(const std::string& route, int status, double seconds) {
  impl_->http_requests.at({route, std::to_string(status)}).Increment();
  impl_->http_duration.at({route}, caf_buckets()).Observe(seconds);
}

void registry::http_in_flight(int delta) {
  impl_->http_in_flight.Increment(delta);
}

void registry::task_finished(int pipeline_id, const std::string& outcome) {
  impl_->tasks.at({std::to_string(pipeline_id), outcome}).Increment();
}

void registry::step_duration(const std::string& handler, double seconds) {
  impl_->steps.at({handler}, caf_buckets()).Observe(seconds);
}

void registry::local_detection(const std::string& detector, double seconds, std::size_t boxes) {
  impl_->local_detector_duration.at({detector}, caf_buckets()).Observe(seconds);
  impl_->local_detector_boxes.at({detector}).Increment(static_cast<double>(boxes));
}

void registry::ml_call(double seconds, bool ok) {
  impl_->ml_duration.Observe(seconds);
  if (!ok) {
    impl_->ml_failures.Increment();
  }
}

void registry::db_write(const std::string& operation, double seconds, bool ok) {
  impl_->db_duration.at({operation}, caf_buckets()).Observe(seconds);
  if (!ok) {
    impl_->db_failures.at({operation}).Increment();
  }
}

void registry::db_write_batch(std::size_t rows) {
  impl_->db_batch_rows.Observe(static_cast<double>(rows));
}

void registry::pipeline_reload() {
  impl_->reloads.Increment();
}

void registry::dispatch_state(std::size_t queue_length, std::size_t in_flight) {
  impl_->queue_length.Set(static_cast<double>(queue_length));
  impl_->dispatch_in_flight.Set(static_cast<double>(in_flight));
}

void registry::dispatch_rejected(const std::string& reason) {
  impl_->dispatch_rejected.at({reason}).Increment();
}

void registry::async_tasks(const std::string& event, std::size_t count) {
  impl_->async_tasks.at({event}).Increment(static_cast<double>(count));
}

void registry::async_running(int count) {
  impl_->async_running.Set(count);
}

void registry::nodes_up(std::size_t count) {
  impl_->nodes_up.Set(static_cast<double>(count));
}

void registry::link_out(std::size_t bytes, double serialize_seconds) {
  impl_->out_messages.Increment();
  impl_->out_bytes.Increment(static_cast<double>(bytes));
  impl_->serialization.Observe(serialize_seconds);
}

void registry::link_in(std::size_t bytes, double deserialize_seconds) {
  impl_->in_messages.Increment();
  impl_->in_bytes.Increment(static_cast<double>(bytes));
  impl_->deserialization.Observe(deserialize_seconds);
}

std::string registry::scrape() {
  auto families = impl_->collect();
  {
    std::lock_guard<std::mutex> lock(impl_->remote_mutex);
    auto now = std::chrono::steady_clock::now();
    for (auto it = impl_->remote.begin(); it != impl_->remote.end();) {
      if (now - it->second.received > remote_report_ttl) {
        it = impl_->remote.erase(it);
        continue;
      }
      families.insert(families.end(), it->second.families.begin(), it->second.families.end());
      ++it;
    }
  }
  auto merged = merge(std::move(families));
  for (auto& family : merged) {
    family.help = escape_help(family.help);
  }
  return prometheus::TextSerializer().Serialize(merged);
}

std::string registry::export_json() {
  return encode_json(impl_->collect());
}

void registry::import_remote(const std::string& node, const std::string& json_text) {
  auto families = decode_json(json_text);
  std::lock_guard<std::mutex> lock(impl_->remote_mutex);
  impl_->remote[node] = {std::move(families), std::chrono::steady_clock::now()};
}

void registry::forget_remote(const std::string& node) {
  std::lock_guard<std::mutex> lock(impl_->remote_mutex);
  impl_->remote.erase(node);
}

void registry::set_process_registry(std::shared_ptr<registry> r) {
  std::lock_guard<std::mutex> lock(process_registry_mutex);
  process_registry_ptr = std::move(r);
}

std::shared_ptr<registry> registry::process_registry() {
  std::lock_guard<std::mutex> lock(process_registry_mutex);
  return process_registry_ptr;
}

} // namespace imgproc::metrics
