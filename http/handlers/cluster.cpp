// The process and the cluster it belongs to: /health (alive), /ready (can take work), /cluster
// (the nodes that run jobs) and /metrics (Prometheus text).

#include "http/handlers/handlers.hpp"
#include "metrics/metrics.hpp"

namespace imgproc::handlers {

void health(handler_context& call) {
  answer_now(call.ex, {200, R"({"status":"ok"})"});
}

void ready(handler_context& call) {
  if (!call.service) // a worker node: ready as soon as it serves
    return answer_now(call.ex, to_reply(service_ready{}));
  call.service->check_ready(answer_to<service_ready>(call.ex));
}

void cluster(handler_context& call) {
  call.service->cluster_status(answer_to<cluster_view>(call.ex));
}

void prometheus_metrics(handler_context& call) {
  if (!call.settings.metrics)
    return answer_now(call.ex, {404, to_text(error_body("metrics are off"))});
  answer_now(call.ex, {200, call.settings.metrics->scrape()},
             "text/plain; version=0.0.4; charset=utf-8");
}

} // namespace imgproc::handlers
