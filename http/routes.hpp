#pragma once

// The HTTP front-end's routes as data: the one list the router is built from (http/server.cpp
// refuses to start if it registers anything else, or misses one) and the one list the OpenAPI
// document (http/openapi.json) must describe, path for path (tests/http/routes_test.cpp).

#include <string>
#include <string_view>
#include <vector>

namespace imgproc {

struct api_route {
  std::string method; ///< lowercase, as in OpenAPI: "get", "post", "put", "delete"
  std::string path;   ///< OpenAPI form: "/pipelines/{id}/versions/{version}"
};

/// Every route imgproc's HTTP front-end serves, in registration order.
const std::vector<api_route>& api_routes();

/// An express-router path in OpenAPI form: "/pipelines/:id" -> "/pipelines/{id}".
std::string openapi_path(std::string_view express_path);

/// Whether some route serves `path` (a request path, no query), whatever its method: tells 405
/// (a known path with the wrong method) from 404.
bool is_known_path(std::string_view path);

} // namespace imgproc
