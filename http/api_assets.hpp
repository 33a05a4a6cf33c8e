#pragma once

// The API's own documentation, compiled into the binary: http/openapi.json (the OpenAPI 3.1
// description of every route, the source of truth; served at /openapi.json). Generated at build
// time by cmake/embed_assets.cmake (see http/CMakeLists.txt).

#include "common/static_asset.hpp"

#include <string_view>
#include <vector>

namespace imgproc {

/// The asset named `name` (a bare file name: "openapi.json"), or nullptr.
const static_asset* find_api_asset(std::string_view name);

/// The names of every embedded asset, sorted.
std::vector<std::string_view> api_asset_names();

/// http/openapi.json as compiled in.
inline std::string_view openapi_document() {
  return find_api_asset("openapi.json")->body;
}

} // namespace imgproc
