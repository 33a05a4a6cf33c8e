// The OpenAPI document (http/openapi.json, compiled in) against the code: the router's routes
// (http/routes.hpp) and the step registry's parameters. A route or a step parameter added,
// removed or changed without its description fails here.

#include "core/step_catalogue.hpp"
#include "core/step_registry.hpp"
#include "http/api_assets.hpp"
#include "http/routes.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

namespace imgproc {
namespace {

nlohmann::json document() {
  return nlohmann::json::parse(openapi_document());
}

TEST(openapi_document, describes_exactly_the_routes_the_router_serves) {
  std::set<std::pair<std::string, std::string>> served, described;
  for (const auto& route : api_routes())
    EXPECT_TRUE(served.emplace(route.method, route.path).second)
        << route.method << " " << route.path << " twice";
  auto doc = document();
  for (const auto& [path, item] : doc["paths"].items())
    for (const auto& [method, operation] : item.items())
      described.emplace(method, path);
  for (const auto& route : served)
    EXPECT_TRUE(described.count(route))
        << route.first << " " << route.second << " is served but not in http/openapi.json";
  for (const auto& route : described)
    EXPECT_TRUE(served.count(route))
        << route.first << " " << route.second << " is in http/openapi.json but not served";
}

TEST(openapi_document, every_operation_has_an_id_a_summary_and_responses) {
  std::set<std::string> ids;
  auto doc = document();
  for (const auto& [path, item] : doc["paths"].items())
    for (const auto& [method, operation] : item.items()) {
      ASSERT_TRUE(operation.contains("operationId")) << method << " " << path;
      EXPECT_TRUE(ids.insert(operation["operationId"].get<std::string>()).second)
          << "operationId " << operation["operationId"] << " twice";
      EXPECT_FALSE(operation.value("summary", "").empty()) << method << " " << path;
      EXPECT_TRUE(operation.contains("responses") && !operation["responses"].empty())
          << method << " " << path;
    }
}

TEST(openapi_document, step_schemas_match_the_step_registry) {
  step_registry registry;
  register_default_steps(registry);
  auto catalogue = describe_steps(registry); // the "items" of GET /steps
  auto doc = document();
  const auto& schemas = doc["components"]["schemas"];
  std::set<std::string> handlers;
  for (const auto& kind : catalogue) {
    std::string handler = kind["handler"];
    handlers.insert(handler);
    auto name = "Step_" + handler;
    ASSERT_TRUE(schemas.contains(name)) << handler << " has no schema " << name;
    const auto& schema = schemas[name];
    EXPECT_EQ(schema["properties"]["handler"]["const"], handler);
    const auto& properties = schema["properties"]["params"]["properties"];
    std::set<std::string> required;
    for (const auto& r : schema["properties"]["params"].value("required", nlohmann::json::array()))
      required.insert(r.get<std::string>());
    EXPECT_EQ(properties.size(), kind["params"].size()) << handler;
    for (const auto& param : kind["params"]) {
      std::string p = param["name"];
      ASSERT_TRUE(properties.contains(p)) << handler << "." << p << " is not documented";
      const auto& described = properties[p];
      EXPECT_EQ(described["type"], param["type"]) << handler << "." << p;
      for (const char* key : {"minimum", "maximum", "default"})
        EXPECT_EQ(described.value(key, nlohmann::json{}), param.value(key, nlohmann::json{}))
            << handler << "." << p << " " << key;
      EXPECT_EQ(described.value("enum", nlohmann::json{}), param.value("choices", nlohmann::json{}))
          << handler << "." << p << " choices";
      EXPECT_EQ(required.count(p) == 1, param["required"].get<bool>()) << handler << "." << p;
    }
  }
  std::set<std::string> mapped;
  for (const auto& [handler, target] : schemas["PipelineStep"]["discriminator"]["mapping"].items())
    mapped.insert(handler);
  EXPECT_EQ(mapped, handlers) << "PipelineStep lists other handlers than the registry";
  EXPECT_EQ(schemas["PipelineStep"]["oneOf"].size(), handlers.size());
}

TEST(routes, express_path_turns_braces_into_router_parameters) {
  EXPECT_EQ(express_path("/pipelines/{id}/versions/{version}"), "/pipelines/:id/versions/:version");
  EXPECT_EQ(express_path("/tasks/{id}"), "/tasks/:id");
  EXPECT_EQ(express_path("/health"), "/health");
}

TEST(routes, every_route_has_a_handler_and_a_metric_label_and_changes_need_the_token) {
  for (const auto& route : api_routes()) {
    EXPECT_NE(route.handler, nullptr) << route.method << " " << route.path;
    EXPECT_FALSE(route.metric_label.empty()) << route.method << " " << route.path;
    // Every call that changes a pipeline, and only those, needs the admin token.
    bool changes_pipelines = route.method != "get" && route.path.rfind("/pipelines", 0) == 0;
    EXPECT_EQ(route.admin_only, changes_pipelines) << route.method << " " << route.path;
  }
}

TEST(routes, known_paths_follow_the_route_table) {
  for (const char* path : {"/process-image", "/api/process-image", "/tasks/7", "/api/tasks/x",
                           "/pipelines/1/versions/2", "/dashboard/app.js", "/openapi.json"})
    EXPECT_TRUE(is_known_path(path)) << path;
  for (const char* path :
       {"/", "/nope", "/tasks/1/2", "/pipelines/1/versions", "/openapixjson", "/dashboard/a/b",
        "/tasks/", "//tasks", "/pipelines//versions/1", "tasks"})
    EXPECT_FALSE(is_known_path(path)) << path;
}

} // namespace
} // namespace imgproc
