#pragma once

// The handlers of the route table (http/routes.cpp), one file per resource. Each runs after the
// server's chain (http/server.cpp: exceptions caught, request id, metrics, header limits, the
// gateway-only and admin-token checks) and answers its exchange exactly once: at once with
// answer_now(), or later through an answer channel handed to the image_service.

#include "core/image_service.hpp"
#include "core/jpeg_decoder.hpp"
#include "core/task_json.hpp"
#include "http/exchange.hpp"
#include "http/server.hpp"

#include <restinio/all.hpp>

namespace imgproc {

struct handler_context {
  exchange_ptr ex;
  const restinio::request_handle_t& req;
  const restinio::router::route_params_t& params;
  /// The service behind the front-end; null on a worker node, where only routes that are not
  /// gateway-only reach their handler.
  image_service* service;
  const http_settings& settings;
};

namespace handlers {

// process_image.cpp
void process_image(handler_context& call);
/// The limits every upload of an image meets (process-image and dry runs): 413 for a body over
/// --max-upload-bytes, checked before it is parsed; nullopt when within.
std::optional<failure> upload_over_limit(const handler_context& call);
/// 413 or 422 when the JPEG's header declares dimensions outside --max-image-pixels or
/// --min-image-side: refused from the header alone, before any decoding. nullopt when within.
std::optional<failure> image_outside_limits(const handler_context& call, const jpeg_header& header);

// dry_run.cpp
void dry_run_stored(handler_context& call); ///< POST /pipelines/{id}/dry-run
void dry_run_inline(handler_context& call); ///< POST /pipelines/dry-run

// tasks.cpp
void get_task(handler_context& call);
void list_tasks(handler_context& call);

// pipelines.cpp
void list_steps(handler_context& call);
void list_pipelines(handler_context& call);
void create_pipeline(handler_context& call);
void get_pipeline(handler_context& call);
void get_pipeline_version(handler_context& call);
void replace_pipeline(handler_context& call);
void delete_pipeline(handler_context& call);

// cluster.cpp: the process and the cluster it belongs to
void ready(handler_context& call);
void cluster(handler_context& call);
void prometheus_metrics(handler_context& call);
void health(handler_context& call);

// static.cpp: files compiled into the binary
void dashboard(handler_context& call); ///< /dashboard and /dashboard/{file}
void studio(handler_context& call);    ///< /studio (its files are under /dashboard/)
void openapi(handler_context& call);
void docs(handler_context& call); ///< /docs (Swagger UI) and /docs/{file}

} // namespace handlers

} // namespace imgproc
