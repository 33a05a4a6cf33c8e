#pragma once

// ml_mock/openapi.json (the OpenAPI 3.1 description of ml_mock), compiled into the binary by
// cmake/embed_assets.cmake and served at /openapi.json.

#include "common/static_asset.hpp"

#include <string_view>
#include <vector>

namespace imgproc {

const static_asset* find_ml_mock_api_asset(std::string_view name);
std::vector<std::string_view> ml_mock_api_asset_names();

} // namespace imgproc

namespace imgproc::ml_mock {

/// ml_mock's routes as (lowercase method, path): what route() in ml_mock/server.cpp answers and
/// what ml_mock/openapi.json must describe (tests/ml_mock/openapi_test.cpp).
struct route {
  const char* method;
  const char* path;
};
inline constexpr route routes[] = {
    {"post", "/ml-process-img"},
    {"get", "/health"},
    {"get", "/openapi.json"},
};

inline std::string_view openapi_document() {
  return find_ml_mock_api_asset("openapi.json")->body;
}

} // namespace imgproc::ml_mock
