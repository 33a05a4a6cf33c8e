#include "core/pipeline_plan.hpp"

namespace imgproc {

result<pipeline_plan> plan_pipeline(const step_registry& registry, int id, std::string title,
                                    const std::vector<step_definition>& steps) {
  auto invalid = [&](std::string detail) {
    return make_failure(error_code::invalid_pipeline,
                        "pipeline " + std::to_string(id) + " is invalid: " + detail);
  };
  if (steps.empty())
    return invalid("it has no steps");
  pipeline_plan plan;
  plan.id = id;
  plan.title = std::move(title);
  value_kind current = value_kind::jpeg_bytes;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const auto& def = steps[i];
    std::string where = "step " + std::to_string(i + 1) + " (" + def.handler + ")";
    const step_kind* kind = registry.find(def.handler);
    if (!kind)
      return invalid(where + ": unknown handler");
    if (kind->input != current)
      return invalid(where + ": takes " + to_string(kind->input) + " but " +
                     (i == 0 ? std::string{"the upload is "}
                             : "the previous step produces ") +
                     to_string(current));
    auto params = validate_params(*kind, def.params);
    if (!params)
      return invalid(where + ": " + params.error().detail);
    planned_step step;
    step.kind = kind;
    step.params = std::move(params.value());
    step.run = kind->make(step.params);
    plan.steps.push_back(std::move(step));
    current = kind->output;
  }
  // Any final output is a result: a detection is answered as a box, anything else is described
  // by output_json() (core/task_json.hpp).
  return plan;
}

} // namespace imgproc
