#pragma once

// The step registry as data for clients (GET /steps): what a no-code editor needs to offer every
// step kind and check its parameters before a pipeline is saved. Built from the registry itself,
// so the catalogue cannot drift from what plan_pipeline() accepts.

#include "core/step_registry.hpp"

#include <nlohmann/json.hpp>

namespace imgproc {

/// One parameter: {name, type, default (null if required), required, minimum and maximum (for
/// integers and numbers), choices (if restricted), odd (only when set), help}.
nlohmann::json describe_param(const param_spec& spec);

/// A JSON array, one object per registered kind in registration order: {handler, title,
/// description, stage, input, output, params}, stage and input/output named by to_string().
nlohmann::json describe_steps(const step_registry& registry);

} // namespace imgproc
