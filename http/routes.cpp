#include "http/routes.hpp"

#include "http/handlers/handlers.hpp"

namespace imgproc {
namespace {

constexpr bool admin = true;
constexpr bool anyone = false;
constexpr bool gateway = true;
constexpr bool any_node = false;

/// The path's segments, empty ones included: "/tasks/7" -> {"tasks", "7"}, "/tasks/" ->
/// {"tasks", ""}. The router matches exactly, so this does too.
std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path.front() != '/')
    return out;
  path.remove_prefix(1);
  for (;;) {
    auto end = path.find('/');
    out.push_back(path.substr(0, end));
    if (end == std::string_view::npos)
      return out;
    path.remove_prefix(end + 1);
  }
}

bool is_parameter(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

} // namespace

const std::vector<api_route>& api_routes() {
  using namespace handlers;
  static const std::vector<api_route> routes = {
      {"post", "/process-image", process_image, anyone, gateway, "/process-image"},
      {"post", "/process_image", process_image, anyone, gateway, "/process_image"},
      {"post", "/api/process-image", process_image, anyone, gateway, "/api/process-image"},
      {"get", "/tasks/{id}", get_task, anyone, gateway, "/tasks/:id"},
      {"get", "/api/tasks/{id}", get_task, anyone, gateway, "/api/tasks/:id"},
      {"get", "/tasks", list_tasks, anyone, gateway, "/tasks"},
      {"get", "/steps", list_steps, anyone, gateway, "/steps"},
      {"get", "/pipelines", list_pipelines, anyone, gateway, "/pipelines"},
      {"post", "/pipelines", create_pipeline, admin, gateway, "/pipelines"},
      {"get", "/pipelines/{id}", get_pipeline, anyone, gateway, "/pipelines/:id"},
      {"get", "/pipelines/{id}/versions/{version}", get_pipeline_version, anyone, gateway,
       "/pipelines/:id/versions/:version"},
      {"post", "/pipelines/dry-run", dry_run_inline, admin, gateway, "/pipelines/dry-run"},
      {"post", "/pipelines/{id}/dry-run", dry_run_stored, admin, gateway, "/pipelines/:id/dry-run"},
      {"put", "/pipelines/{id}", replace_pipeline, admin, gateway, "/pipelines/:id"},
      {"delete", "/pipelines/{id}", delete_pipeline, admin, gateway, "/pipelines/:id"},
      {"get", "/ready", ready, anyone, any_node, "/ready"},
      {"get", "/cluster", cluster, anyone, gateway, "/cluster"},
      {"get", "/metrics", prometheus_metrics, anyone, any_node, "/metrics"},
      {"get", "/dashboard", dashboard, anyone, any_node, "/dashboard"},
      {"get", "/dashboard/{file}", dashboard, anyone, any_node, "/dashboard"},
      {"get", "/studio", studio, anyone, gateway, "/studio"},
      {"get", "/health", health, anyone, any_node, "/health"},
      {"get", "/openapi.json", openapi, anyone, any_node, "/openapi.json"},
      {"get", "/docs", docs, anyone, any_node, "/docs"},
      {"get", "/docs/{file}", docs, anyone, any_node, "/docs"},
  };
  return routes;
}

std::string express_path(std::string_view openapi_path) {
  std::string out;
  for (char c : openapi_path) {
    if (c == '{')
      out += ':';
    else if (c != '}')
      out += c;
  }
  return out;
}

bool is_known_path(std::string_view path) {
  auto wanted = segments(path);
  for (const auto& route : api_routes()) {
    auto pattern = segments(route.path);
    if (pattern.size() != wanted.size())
      continue;
    bool match = true;
    for (std::size_t i = 0; i < pattern.size() && match; ++i)
      match = is_parameter(pattern[i]) ? !wanted[i].empty() : pattern[i] == wanted[i];
    if (match)
      return true;
  }
  return false;
}

bool is_literal_route_path(std::string_view path) {
  for (const auto& route : api_routes())
    if (route.path == path && route.path.find('{') == std::string::npos)
      return true;
  return false;
}

} // namespace imgproc
