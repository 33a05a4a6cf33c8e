#pragma once

// A pipeline as stored (handler names and JSON parameters) turned into something runnable:
// every handler resolved in the registry, every parameter checked, and every step's input
// matching the previous step's output. A plan is immutable and shared by all requests using it.

#include "core/errors.hpp"
#include "core/step_registry.hpp"

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace imgproc {

struct step_definition {
  std::string handler;
  nlohmann::json params = nlohmann::json::object();
};

struct planned_step {
  const step_kind* kind = nullptr;
  nlohmann::json params; ///< validated, defaults filled in
  step_fn run;
};

struct pipeline_plan {
  int id = 0;
  int version = 1; ///< the stored version these steps are; recorded with every task
  std::string title;
  std::vector<planned_step> steps;
  /// The steps as compact JSON, [{"handler":..,"params":{..}}] with defaults filled in: what a
  /// job sends to a worker node, which plans the same steps with its own registry.
  std::string steps_json;
};

using plan_ptr = std::shared_ptr<const pipeline_plan>;

/// Fails with invalid_pipeline, the detail naming the step ("step 2 (resize): ...").
/// A runnable pipeline takes JPEG bytes first and may end with any output (a detection, an image,
/// encoded bytes or base64 text).
result<pipeline_plan> plan_pipeline(const step_registry& registry, int id, std::string title,
                                    const std::vector<step_definition>& steps);

/// Parses steps_json back into definitions. bad_request if it is not an array of
/// {"handler": string, "params": object}.
result<std::vector<step_definition>> parse_steps_json(std::string_view text);

/// A pipeline as clients send it (POST/PUT /pipelines) and as GET /pipelines/{id} shows it,
/// without the id and version.
struct pipeline_definition {
  std::string title;
  std::string description;
  std::vector<step_definition> steps;
};

/// Parses {"title", "description"?, "steps": [{"handler", "params"?}]}; `id` and `version`
/// are accepted and ignored, so that what GET answers can be sent back. bad_request on malformed
/// JSON or shape; invalid_pipeline (naming the step) when the steps do not validate.
result<pipeline_definition> parse_pipeline_definition(const step_registry& registry,
                                                      std::string_view body);

} // namespace imgproc
