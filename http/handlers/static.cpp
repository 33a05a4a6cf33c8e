// Files compiled into the binary: the dashboard, the OpenAPI document and Swagger UI over it.
// A page's route answers its index file; its {file} route the file of that name (or 404).

#include "http/api_assets.hpp"
#include "http/handlers/handlers.hpp"
#include "http/static_assets.hpp"

namespace imgproc::handlers {
namespace {

/// The {file} route parameter, or `index` on the page's own route.
std::string requested_file(handler_context& call, const char* index) {
  if (!call.params.has("file"))
    return index;
  auto file = call.params["file"];
  return std::string{file.data(), file.size()};
}

/// An embedded file with its content type, or a JSON 404 when there is none.
void answer_asset(const exchange_ptr& ex, const static_asset* asset) {
  if (!asset)
    return answer_now(ex, {404, to_text(error_body("Not Found"))});
  std::string content_type{asset->content_type};
  answer_now(ex, {200, std::string{asset->body}}, content_type.c_str());
}

} // namespace

void dashboard(handler_context& call) {
  answer_asset(call.ex, find_static_asset(requested_file(call, "index.html")));
}

void studio(handler_context& call) {
  answer_asset(call.ex, find_static_asset("studio.html"));
}

void openapi(handler_context& call) {
  answer_now(call.ex, {200, std::string{imgproc::openapi_document()}});
}

void docs(handler_context& call) {
  if (!find_api_asset("swagger-ui-bundle.js"))
    return answer_now(
        call.ex, {503, to_text(error_body("Swagger UI was not installed when this binary was built "
                                          "(scripts/setup installs it); the API description is at "
                                          "/openapi.json"))});
  auto file = requested_file(call, "docs.html");
  // The document has its own route; under /docs it would be a second copy of it.
  answer_asset(call.ex, file == "openapi.json" ? nullptr : find_api_asset(file));
}

} // namespace imgproc::handlers
