#pragma once

// The HTTP front-end's routes as data: the one list of routes. The router is built from it
// (http/server.cpp), it tells 405 from 404, it names each route's metric label, and the OpenAPI
// document (http/openapi.json) must describe it path for path (tests/http/routes_test.cpp).

#include <string>
#include <string_view>
#include <vector>

namespace imgproc {

struct handler_context;
using route_handler = void (*)(handler_context&);

struct api_route {
  std::string method;       ///< lowercase, as in OpenAPI: "get", "post", "put", "delete"
  std::string path;         ///< OpenAPI form: "/pipelines/{id}/versions/{version}"
  route_handler handler;    ///< http/handlers/
  bool admin_only = false;  ///< needs `Authorization: Bearer <token>` when a token is set
  bool gateway_only = true; ///< a worker node's port answers 404 (it runs no service)
  std::string metric_label; ///< `route` label of imgproc_http_* and of the request log line
};

/// Every route imgproc's HTTP front-end serves, in registration order.
const std::vector<api_route>& api_routes();

/// An OpenAPI path in the router's (express) form: "/pipelines/{id}" -> "/pipelines/:id".
std::string express_path(std::string_view openapi_path);

/// Whether some route serves `path` (a request path, no query), whatever its method: tells 405
/// (a known path with the wrong method) from 404.
bool is_known_path(std::string_view path);

/// Whether a route whose path has no parameter is exactly `path` (`/pipelines/dry-run`): a
/// request for it that the router matched to a parameter route (`GET /pipelines/{id}`) meant it,
/// with a method it does not serve.
bool is_literal_route_path(std::string_view path);

} // namespace imgproc
