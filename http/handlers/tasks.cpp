// GET /tasks/{id} and GET /tasks: stored tasks, read by the service from PostgreSQL.

#include "common/options.hpp"
#include "core/upload.hpp"
#include "http/handlers/handlers.hpp"

namespace imgproc::handlers {

void get_task(handler_context& call) {
  auto text = call.params["id"];
  auto id = parse_int(std::string{text.data(), text.size()});
  if (!id || *id <= 0)
    return answer_bad_request(call.ex, "task id must be a positive integer");
  call.service->get_task(*id, answer_to<task_record>(call.ex));
}

void list_tasks(handler_context& call) {
  auto query = restinio::try_parse_query<restinio::parse_query_traits::restinio_defaults>(
      call.req->header().query());
  if (!query)
    return answer_bad_request(call.ex, "malformed query string");
  auto text = [&](const char* name) {
    auto v = (*query)[name];
    return std::string{v.data(), v.size()};
  };
  task_filter filter;
  if (query->has("pipeline_id")) {
    auto id = parse_pipeline_id(text("pipeline_id"));
    if (!id)
      return answer_bad_request(call.ex, "pipeline_id must be a positive integer");
    filter.pipeline_id = *id;
  }
  if (query->has("status")) {
    auto status = text("status");
    if (status != "queued" && status != "processing" && status != "detected" &&
        status != "undetected" && status != "processed" && status != "failed")
      return answer_bad_request(
          call.ex, "status must be queued, processing, detected, undetected, processed or failed");
    filter.status = status;
  }
  if (query->has("limit")) {
    auto limit = parse_int(text("limit"));
    if (!limit || *limit < 1 || *limit > 500)
      return answer_bad_request(call.ex, "limit must be an integer in [1, 500]");
    filter.limit = static_cast<int>(*limit);
  }
  if (query->has("after_id")) {
    auto after = parse_int(text("after_id"));
    if (!after || *after < 1)
      return answer_bad_request(call.ex, "after_id must be a positive integer");
    filter.after_id = *after;
  }
  call.service->list_tasks(std::move(filter), answer_to<task_page>(call.ex));
}

} // namespace imgproc::handlers
