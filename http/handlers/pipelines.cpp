// GET /steps and /pipelines[/{id}[/versions/{version}]], POST, PUT and DELETE of pipelines. The
// admin token of the changing calls is checked by the server's chain, before anything here.

#include "core/upload.hpp"
#include "http/handlers/handlers.hpp"

namespace imgproc::handlers {
namespace {

constexpr std::size_t max_definition_bytes = 1u << 20;

std::optional<int> positive_param(handler_context& call, const char* name) {
  auto text = call.params[name];
  auto id = parse_pipeline_id(std::string_view{text.data(), text.size()});
  if (!id)
    return std::nullopt;
  return *id;
}

/// Whether the body of a change is small enough; answers 413 if not.
bool definition_fits(handler_context& call) {
  if (call.req->body().size() <= max_definition_bytes)
    return true;
  answer_now(call.ex, failure_reply(make_failure(error_code::payload_too_large,
                                                 "a pipeline definition is at most 1 MiB")));
  return false;
}

/// Whether a change's body is declared JSON; answers 415 if not. A web page of another origin can
/// POST a form or text/plain without the browser asking first, never application/json: without
/// an admin token, this is what keeps such a page from creating pipelines.
bool declared_json(handler_context& call) {
  auto type = call.req->header().get_field_or(restinio::http_field::content_type, "");
  std::string_view media{type};
  media = media.substr(0, media.find(';'));
  while (!media.empty() && media.back() == ' ')
    media.remove_suffix(1);
  if (restinio::impl::is_equal_caseless(media, std::string_view{"application/json"}))
    return true;
  answer_now(call.ex, failure_reply(make_failure(
                          error_code::unsupported_media_type,
                          "a pipeline definition is sent as Content-Type: application/json")));
  return false;
}

void bad_pipeline_id(handler_context& call) {
  answer_bad_request(call.ex, "pipeline id must be a positive integer");
}

} // namespace

void list_steps(handler_context& call) {
  call.service->list_steps(answer_to<step_list>(call.ex));
}

void list_pipelines(handler_context& call) {
  call.service->list_pipelines(answer_to<pipeline_list>(call.ex));
}

void create_pipeline(handler_context& call) {
  if (!definition_fits(call) || !declared_json(call))
    return;
  call.service->create_pipeline(
      std::string{call.req->body()},
      answer_to<pipeline_record>(
          call.ex, [](const pipeline_record& record) { return to_reply(record, 201); }));
}

void get_pipeline(handler_context& call) {
  auto id = positive_param(call, "id");
  if (!id)
    return bad_pipeline_id(call);
  call.service->get_pipeline(*id, std::nullopt, answer_to<pipeline_record>(call.ex));
}

void get_pipeline_version(handler_context& call) {
  auto id = positive_param(call, "id");
  if (!id)
    return bad_pipeline_id(call);
  auto version = positive_param(call, "version");
  if (!version)
    return answer_bad_request(call.ex, "version must be a positive integer");
  call.service->get_pipeline(*id, *version, answer_to<pipeline_record>(call.ex));
}

void replace_pipeline(handler_context& call) {
  if (!definition_fits(call) || !declared_json(call))
    return;
  auto id = positive_param(call, "id");
  if (!id)
    return bad_pipeline_id(call);
  call.service->replace_pipeline(*id, std::string{call.req->body()},
                                 answer_to<pipeline_record>(call.ex));
}

void delete_pipeline(handler_context& call) {
  if (!definition_fits(call))
    return;
  auto id = positive_param(call, "id");
  if (!id)
    return bad_pipeline_id(call);
  call.service->delete_pipeline(*id, answer_to<pipeline_removal>(call.ex));
}

} // namespace imgproc::handlers
