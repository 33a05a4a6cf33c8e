// POST /pipelines/{id}/dry-run and POST /pipelines/dry-run: the upload checked as for
// /process-image, then run through a stored pipeline or an unsaved definition without storing a
// task. Both need the admin token when one is set (the server's chain checks it).

#include "core/upload.hpp"
#include "http/client_watch.hpp"
#include "http/handlers/handlers.hpp"
#include "http/upload_parser.hpp"

namespace imgproc::handlers {
namespace {

void run_dry(handler_context& call, int pipeline_id) {
  const auto& req = call.req;
  const auto& settings = call.settings;
  const auto& ex = call.ex;
  if (auto refused = upload_over_limit(call))
    return answer_now(ex, failure_reply(*refused));
  auto content_type = req->header().get_field_or(restinio::http_field::content_type, "");
  auto upload = parse_dry_run_upload(content_type, req->body(), pipeline_id == 0);
  if (!upload)
    return answer_now(ex, failure_reply(upload.error()));
  if (auto header = read_jpeg_header(upload->image))
    if (auto refused = image_outside_limits(call, *header))
      return answer_now(ex, failure_reply(*refused));
  dry_run_request work;
  work.pipeline_id = pipeline_id;
  work.definition = std::string{upload->definition};
  work.filename = std::move(upload->filename);
  work.image = upload->image;
  work.owner = req; // keeps the body, and so `image`, alive
  work.deadline = std::chrono::steady_clock::now() + settings.request_timeout;
  work.client_gone = client_watch::process().find(req->remote_endpoint());
  work.request_id = ex->id;
  if (pipeline_id != 0)
    ex->pipeline_id = pipeline_id;
  call.service->dry_run(std::move(work), answer_to<dry_run_answer>(ex));
}

} // namespace

void dry_run_stored(handler_context& call) {
  auto text = call.params["id"];
  auto id = parse_pipeline_id(std::string_view{text.data(), text.size()});
  if (!id)
    return answer_bad_request(call.ex, "pipeline id must be a positive integer");
  run_dry(call, *id);
}

void dry_run_inline(handler_context& call) {
  run_dry(call, 0);
}

} // namespace imgproc::handlers
