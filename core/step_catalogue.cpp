#include "core/step_catalogue.hpp"

#include <cmath>
#include <cstdint>

namespace imgproc {
namespace {

/// Bounds and choices of an integer parameter are stored as doubles; they are shown as integers
/// so that a client comparing them with the values it sends sees 90, not 90.0.
nlohmann::json number_json(const param_spec& spec, double v) {
  if (spec.type == param_type::integer && std::floor(v) == v)
    return static_cast<std::int64_t>(v);
  return v;
}

} // namespace

nlohmann::json describe_param(const param_spec& spec) {
  nlohmann::json out = {{"name", spec.name},
                        {"type", to_string(spec.type)},
                        {"default", spec.default_value},
                        {"required", spec.default_value.is_null()},
                        {"help", spec.help}};
  if (spec.type == param_type::integer || spec.type == param_type::number) {
    out["minimum"] = number_json(spec, spec.min);
    out["maximum"] = number_json(spec, spec.max);
    if (!spec.allowed_numbers.empty()) {
      auto choices = nlohmann::json::array();
      for (double v : spec.allowed_numbers)
        choices.push_back(number_json(spec, v));
      out["choices"] = std::move(choices);
    }
    if (spec.odd)
      out["odd"] = true;
  } else if (!spec.choices.empty()) {
    out["choices"] = spec.choices;
  }
  return out;
}

nlohmann::json describe_steps(const step_registry& registry) {
  auto out = nlohmann::json::array();
  for (const step_kind* kind : registry.kinds()) {
    auto params = nlohmann::json::array();
    for (const auto& spec : kind->params)
      params.push_back(describe_param(spec));
    out.push_back({{"handler", kind->handler},
                   {"title", kind->title},
                   {"description", kind->description},
                   {"stage", to_string(kind->stage)},
                   {"input", to_string(kind->input)},
                   {"output", to_string(kind->output)},
                   {"params", std::move(params)}});
  }
  return out;
}

} // namespace imgproc
