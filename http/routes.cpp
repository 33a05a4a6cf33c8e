#include "http/routes.hpp"

#include <regex>

namespace imgproc {

const std::vector<api_route>& api_routes() {
  static const std::vector<api_route> routes = {
      {"post", "/process-image"},
      {"post", "/process_image"},
      {"post", "/api/process-image"},
      {"get", "/tasks/{id}"},
      {"get", "/api/tasks/{id}"},
      {"get", "/tasks"},
      {"get", "/steps"},
      {"get", "/pipelines"},
      {"post", "/pipelines"},
      {"get", "/pipelines/{id}"},
      {"get", "/pipelines/{id}/versions/{version}"},
      {"put", "/pipelines/{id}"},
      {"delete", "/pipelines/{id}"},
      {"get", "/ready"},
      {"get", "/cluster"},
      {"get", "/metrics"},
      {"get", "/dashboard"},
      {"get", "/dashboard/{file}"},
      {"get", "/health"},
      {"get", "/openapi.json"},
      {"get", "/docs"},
      {"get", "/docs/{file}"},
  };
  return routes;
}

std::string openapi_path(std::string_view express_path) {
  std::string out;
  bool in_parameter = false;
  for (char c : express_path) {
    if (c == ':') {
      out += '{';
      in_parameter = true;
      continue;
    }
    if (c == '/' && in_parameter) {
      out += '}';
      in_parameter = false;
    }
    out += c;
  }
  if (in_parameter)
    out += '}';
  return out;
}

bool is_known_path(std::string_view path) {
  static const std::vector<std::regex> patterns = [] {
    std::vector<std::regex> out;
    static const std::regex parameter{R"(\{[^}/]+\})"};
    for (const auto& route : api_routes()) {
      auto pattern = std::regex_replace(route.path, std::regex{R"([.])"}, R"(\.)");
      out.emplace_back(std::regex_replace(pattern, parameter, "[^/]+"));
    }
    return out;
  }();
  for (const auto& pattern : patterns)
    if (std::regex_match(path.begin(), path.end(), pattern))
      return true;
  return false;
}

} // namespace imgproc
