// POST /process-image (and its aliases): the upload checked from its headers alone, then handed
// to the service, which answers the task (or 202 for ?async=true).

#include "core/jpeg_decoder.hpp"
#include "http/client_watch.hpp"
#include "http/handlers/handlers.hpp"
#include "http/upload_parser.hpp"

namespace imgproc::handlers {

std::optional<failure> upload_over_limit(const handler_context& call) {
  auto size = call.req->body().size();
  if (size <= call.settings.max_upload_bytes)
    return std::nullopt;
  return make_failure(error_code::payload_too_large,
                      "upload of " + std::to_string(size) + " bytes is over the limit of " +
                          std::to_string(call.settings.max_upload_bytes) + " bytes");
}

std::optional<failure> image_outside_limits(const handler_context& call,
                                            const jpeg_header& header) {
  const auto& settings = call.settings;
  auto pixels = static_cast<std::uint64_t>(header.width) * header.height;
  auto size = std::to_string(header.width) + "x" + std::to_string(header.height);
  if (header.width < settings.min_image_side || header.height < settings.min_image_side)
    return make_failure(error_code::image_too_small,
                        "image is " + size + " pixels, under the minimum side of " +
                            std::to_string(settings.min_image_side) + " pixels");
  if (pixels > settings.max_image_pixels)
    return make_failure(error_code::image_too_large,
                        "image is " + size + " pixels, over the limit of " +
                            std::to_string(settings.max_image_pixels) + " pixels");
  return std::nullopt;
}

void process_image(handler_context& call) {
  const auto& req = call.req;
  const auto& settings = call.settings;
  const auto& ex = call.ex;
  if (auto refused = upload_over_limit(call))
    return answer_now(ex, failure_reply(*refused));
  auto query = restinio::try_parse_query<restinio::parse_query_traits::restinio_defaults>(
      req->header().query());
  if (!query)
    return answer_bad_request(ex, "malformed query string");
  // Twice is ambiguous, as a repeated form field is: refused, not read as the first.
  for (const char* name : {"pipeline_id", "async"}) {
    std::size_t times = 0;
    for (const auto& [key, value] : *query)
      times += key == name;
    if (times > 1)
      return answer_bad_request(ex, std::string{name} + " is given more than once in the query");
  }
  std::optional<std::string_view> query_id;
  if (query->has("pipeline_id")) {
    auto value = (*query)["pipeline_id"];
    query_id = std::string_view{value.data(), value.size()};
  }
  bool async = false;
  if (query->has("async")) {
    auto value = (*query)["async"];
    std::string_view flag{value.data(), value.size()};
    if (flag == "true" || flag == "1")
      async = true;
    else if (flag != "false" && flag != "0")
      return answer_bad_request(ex, "async must be true or false");
  }
  auto content_type = req->header().get_field_or(restinio::http_field::content_type, "");
  auto upload = parse_process_upload(content_type, req->body(), query_id);
  if (!upload)
    return answer_now(ex, failure_reply(upload.error()));
  // Refused from the header alone: no task row, no decoding, no allocation for the pixels.
  if (auto header = read_jpeg_header(upload->image)) {
    if (auto refused = image_outside_limits(call, *header))
      return answer_now(ex, failure_reply(*refused));
  } else if (async) {
    // A queued upload is decoded later, with no client waiting to hear it was unreadable.
    return answer_now(ex, failure_reply(make_failure(error_code::undecodable_image,
                                                     "the JPEG header cannot be read")));
  }
  process_request work;
  work.pipeline_id = upload->pipeline_id;
  work.request_id = ex->id;
  ex->pipeline_id = upload->pipeline_id;
  work.filename = std::move(upload->filename);
  work.image = upload->image;
  work.owner = req; // keeps the body, and so `image`, alive
  work.deadline = std::chrono::steady_clock::now() + settings.request_timeout;
  // A queued task runs whether its client stays or not; a run now stops when its client leaves.
  if (!async)
    work.client_gone = client_watch::process().find(req->remote_endpoint());
  work.async = async;
  call.service->process(std::move(work), answer_to<task_answer>(ex));
}

} // namespace imgproc::handlers
